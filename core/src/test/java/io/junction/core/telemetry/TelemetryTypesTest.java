package io.junction.core.telemetry;

import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine-neutral pieces: lengths of time, tags, the type rule and retention cut-offs. */
class TelemetryTypesTest {

    private static final long S = TimeSpans.NS_PER_S;

    @Test
    void lengthsOfTimeAreParsedAndFormatted() {
        assertThat(TimeSpans.parse("1m")).isEqualTo(60 * S);
        assertThat(TimeSpans.parse("1h30m")).isEqualTo(5_400 * S);
        assertThat(TimeSpans.parse("500ms")).isEqualTo(500_000_000L);
        assertThat(TimeSpans.parse("2y")).isEqualTo(2 * 365 * 86_400 * S);
        assertThat(TimeSpans.format(90 * 86_400 * S)).isEqualTo("90d");
        assertThat(TimeSpans.format(90 * S)).isEqualTo("90s");
        assertThat(TimeSpans.format(Long.MAX_VALUE)).isEqualTo("forever");
        for (String bad : List.of("", "m", "1", "1x", "-1m", "1.5h", "99999999999999999y")) {
            assertThatThrownBy(() -> TimeSpans.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(TimeSpans.floor(125, 60)).isEqualTo(120);
        assertThat(TimeSpans.ceil(121, 60)).isEqualTo(180);
        assertThat(TimeSpans.ceil(120, 60)).isEqualTo(120);
    }

    @Test
    void tagsHaveOneCanonicalTextThatParsesBack() {
        Tags t = Tags.of(Map.of("b", "x,y=z", "a", "back\\slash"));
        assertThat(t.canonical()).isEqualTo("a=back\\\\slash,b=x\\,y\\=z");
        assertThat(Tags.parse(t.canonical())).isEqualTo(t);
        assertThat(Tags.parse(t.canonical()).asMap()).isEqualTo(Map.of("b", "x,y=z", "a", "back\\slash"));
        assertThat(Tags.of(Map.of())).isSameAs(Tags.EMPTY);
    }

    @Test
    void theTypeRuleConvertsWhatLosesNothingAndDivertsTheRest() {
        assertThat(TypeRule.convert(FieldType.FLOAT, FieldValue.of(3L))).hasValue(FieldValue.of(3.0));
        assertThat(TypeRule.convert(FieldType.INTEGER, FieldValue.of(3.0))).hasValue(FieldValue.of(3L));
        assertThat(TypeRule.convert(FieldType.INTEGER, FieldValue.of(3.5))).isEmpty();
        assertThat(TypeRule.convert(FieldType.INTEGER, FieldValue.of(1e30))).isEmpty();
        assertThat(TypeRule.convert(FieldType.BOOLEAN, FieldValue.of(1L))).isEmpty();
        assertThat(TypeRule.convert(FieldType.STRING, FieldValue.of(1.0))).isEmpty();
        SeriesKey k = new SeriesKey(RoutingKey.of("k"), Tags.EMPTY, "temp");
        assertThat(TypeRule.divertedKey(k, FieldType.STRING).field()).isEqualTo("temp:string");
    }

    @Test
    void theRawCutoffFollowsTheFirstMatchingRuleAlignedToItsFirstRollup() {
        long day = 86_400 * S;
        Retention r = new Retention(List.of(
                new RetentionRule(RoutingPattern.of("lab.#"), day, List.of(new RetentionRule.Rollup(3_600 * S, 30 * day))),
                new RetentionRule(RoutingPattern.ALL, 7 * day, List.of())));
        long now = 100 * day + 1_234 * S;
        assertThat(r.rawCutoff(RoutingKey.of("lab.x"), now)).isEqualTo(99 * day);
        assertThat(r.rawCutoff(RoutingKey.of("home.x"), now)).isEqualTo(now - 7 * day);
        assertThat(r.granularity()).isEqualTo(3_600 * S);
        assertThat(Retention.KEEP_ALL.rawCutoff(RoutingKey.of("x"), now)).isZero();
    }

    @Test
    void rulesWhoseLevelsCannotBeComputedFromEachOtherAreRejected() {
        long day = 86_400 * S;
        assertThat(RetentionRule.problem(day, List.of(new RetentionRule.Rollup(60 * S, day), new RetentionRule.Rollup(90 * S, day))))
                .contains("multiple of the one before");
        assertThat(RetentionRule.problem(7 * day, List.of(new RetentionRule.Rollup(60 * S, day))))
                .contains("at least as long");
        assertThat(RetentionRule.problem(day, List.of(new RetentionRule.Rollup(S / 2, day)))).contains("at least 1s");
        assertThat(RetentionRule.problem(day, List.of(new RetentionRule.Rollup(60 * S, 2 * day)))).isNull();
    }
}
