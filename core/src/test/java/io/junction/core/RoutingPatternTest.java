package io.junction.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RoutingPatternTest {

    @ParameterizedTest(name = "{0} ~ {1} = {2}")
    @CsvSource({
            "bedroom.light.brightness, bedroom.light.brightness, true",
            "bedroom.light.brightness, bedroom.light, false",
            "bedroom.*.temperature, bedroom.sensor.temperature, true",
            "bedroom.*.temperature, bedroom.temperature, false",
            "bedroom.*.temperature, bedroom.a.b.temperature, false",
            "#, anything.at.all, true",
            "#.status, status, true",
            "#.status, a.b.status, true",
            "#.status, a.b.statuses, false",
            "plant.#, plant, true",
            "plant.#, plant.7.soil, true",
            "plant.#, plants.7, false",
            "a.#.z, a.z, true",
            "a.#.z, a.b.c.z, true",
            "a.#.z, a.b.c.y, false",
            "*.*, a.b, true",
            "*.*, a, false",
            "*, a, true",
            "a.*.#, a.b, true",
            "a.*.#, a, false",
            "#.b.#, a.b.c, true",
            "#.b.#, a.c, false",
    })
    void matchesLikeAnAmqpTopicExchange(String pattern, String key, boolean expected) {
        assertThat(RoutingPattern.of(pattern).matches(RoutingKey.of(key))).isEqualTo(expected);
    }

    @Test
    void wildcardsMustBeWholeWords() {
        assertThatThrownBy(() -> RoutingPattern.of("bed*.light")).hasMessageContaining("whole word");
        assertThatThrownBy(() -> RoutingPattern.of("a..b")).hasMessageContaining("empty word");
        assertThatThrownBy(() -> RoutingPattern.of("")).hasMessageContaining("empty");
    }

    @Test
    void keysRejectPatternCharactersAndEmptyWords() {
        assertThatThrownBy(() -> RoutingKey.of("a.*")).hasMessageContaining("only allowed in patterns");
        assertThatThrownBy(() -> RoutingKey.of("a..b")).hasMessageContaining("empty word");
        assertThatThrownBy(() -> RoutingKey.of("a.")).hasMessageContaining("empty word");
        assertThatThrownBy(() -> RoutingKey.of("a b")).hasMessageContaining("white space");
        assertThat(RoutingKey.of("mesh.b5ea3f.42").words()).containsExactly("mesh", "b5ea3f", "42");
    }
}
