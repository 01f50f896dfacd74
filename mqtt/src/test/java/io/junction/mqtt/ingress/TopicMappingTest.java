package io.junction.mqtt.ingress;

import io.junction.core.RoutingKey;
import io.junction.core.config.JunctionConfig;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TopicMappingTest {

    private final TopicMapping mapping = new TopicMapping(new JunctionConfig.Mapping(
            Map.of("mesh/b5ea3f/42", "bedroom.light", "mesh/b5ea3f", "hub"), Map.of("M", "brightness"), "status", "command"));

    @Test
    void aMappedDeviceTopicEntersUnderItsLogicalNameAsStatus() {
        Route r = mapping.ingress("mesh/b5ea3f/42/M/status").orElseThrow();
        assertThat(r.key()).isEqualTo(RoutingKey.of("bedroom.light.brightness"));
        assertThat(r.kind()).isEqualTo("status");
        assertThat(r.device()).isEqualTo("mesh/b5ea3f/42");
    }

    @Test
    void theLongestConfiguredDevicePrefixWins() {
        assertThat(mapping.ingress("mesh/b5ea3f/7/status").orElseThrow().key()).isEqualTo(RoutingKey.of("hub.7"));
        assertThat(mapping.ingress("mesh/b5ea3f/42/status").orElseThrow().key()).isEqualTo(RoutingKey.of("bedroom.light"));
        // a prefix must end at a level boundary
        assertThat(mapping.ingress("mesh/b5ea3f/421/M").orElseThrow().key()).isEqualTo(RoutingKey.of("hub.421.brightness"));
    }

    @Test
    void commandTopicsPublishedByClientsDoNotEnterTheStreams() {
        assertThat(mapping.ingress("mesh/b5ea3f/42/M/command")).isEmpty();
        assertThat(mapping.ingress("dev42/app/s/config")).isEmpty();
    }

    @Test
    void applicationTopicsFollowTheUidAppConvention() {
        Route r = mapping.ingress("dev42/app/p/data").orElseThrow();
        assertThat(r.key()).isEqualTo(RoutingKey.of("dev42.app.data"));
        assertThat(r.device()).isEqualTo("dev42");
        assertThat(r.kind()).isEqualTo("application");
        assertThat(mapping.egress(RoutingKey.of("dev42.app.config")).topic()).isEqualTo("dev42/app/s/config");
    }

    @Test
    void unmappedTopicsEnterUnderTheTopicWithDotsSoNothingIsDropped() {
        Route r = mapping.ingress("plant/7/soil").orElseThrow();
        assertThat(r.key()).isEqualTo(RoutingKey.of("plant.7.soil"));
        assertThat(r.device()).isEqualTo("plant");
        assertThat(mapping.ingress("a//b.c/d e").orElseThrow().key()).isEqualTo(RoutingKey.of("a._.b_c.d_e"));
    }

    @Test
    void egressReversesTheMapping() {
        TopicMapping.Egress e = mapping.egress(RoutingKey.of("bedroom.light.brightness"));
        assertThat(e.topic()).isEqualTo("mesh/b5ea3f/42/M/command");
        assertThat(e.device()).isEqualTo("mesh/b5ea3f/42");
        assertThat(mapping.egress(RoutingKey.of("bedroom.light")).topic()).isEqualTo("mesh/b5ea3f/42/command");
        assertThat(mapping.egress(RoutingKey.of("plant.7.soil")).topic()).isEqualTo("plant/7/soil");
    }

    @Test
    void aMappingThatCannotBeReversedIsRefused() {
        assertThatThrownBy(() -> new TopicMapping(new JunctionConfig.Mapping(
                Map.of("a/1", "room.x", "a/2", "room.x"), Map.of(), "status", "command")))
                .hasMessageContaining("map to 'room.x'");
    }
}
