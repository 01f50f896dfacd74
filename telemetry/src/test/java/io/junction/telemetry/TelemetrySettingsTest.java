package io.junction.telemetry;

import io.junction.core.RoutingPattern;
import io.junction.core.config.Section;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.RetentionRule;
import io.junction.core.telemetry.TimeSpans;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TelemetrySettingsTest {

    private static TelemetrySettings parse(String toml) {
        return TelemetrySettings.read(Section.parse("t.toml", toml, Map.<String, String>of()::get));
    }

    @Test
    void withoutASectionTheDefaultsApply() {
        TelemetrySettings t = parse("");
        assertThat(t).isEqualTo(TelemetrySettings.defaults());
        assertThat(t.retention()).isSameAs(Retention.DEFAULT);
        assertThat(t.kinds()).containsExactly("status");
    }

    @Test
    void everyKeyIsRead() {
        TelemetrySettings t = parse("""
                [telemetry]
                store = "postgres"
                keys = ["bedroom.#", "#.env"]
                kinds = ["status", "application"]
                device_telemetry = false
                strings = "tag"
                tags = ["room"]
                batch = 500
                queue = 2000
                max_fields = 10
                max_series = 100
                max_buckets = 5000
                max_points = 700
                maintenance_interval = "30s"

                [[telemetry.retention]]
                keys = "lab.#"
                raw = "2d"
                rollups = [{ every = "1m", keep = "30d" }, { every = "1h", keep = "forever" }]

                [[telemetry.retention]]
                keys = "#"
                raw = "forever"

                [telemetry.postgres]
                url = "jdbc:postgresql://db:5432/iot"
                user = "iot"
                password_env = "PG_PW"
                pool = 8
                """);
        assertThat(t.store()).isEqualTo(TelemetrySettings.StoreKind.POSTGRES);
        assertThat(t.keys()).containsExactly(RoutingPattern.of("bedroom.#"), RoutingPattern.of("#.env"));
        assertThat(t.kinds()).containsExactly("status", "application");
        assertThat(t.deviceTelemetry()).isFalse();
        assertThat(t.strings()).isEqualTo(TelemetrySettings.Strings.TAG);
        assertThat(t.tags()).containsExactly("room");
        assertThat(t.batch()).isEqualTo(500);
        assertThat(t.queue()).isEqualTo(2000);
        assertThat(t.maxFields()).isEqualTo(10);
        assertThat(t.limits().maxSeries()).isEqualTo(100);
        assertThat(t.limits().maxBuckets()).isEqualTo(5000);
        assertThat(t.limits().maxPoints()).isEqualTo(700);
        assertThat(t.maintenanceInterval()).isEqualTo(30 * TimeSpans.NS_PER_S);
        assertThat(t.retention().rules()).hasSize(2);
        RetentionRule lab = t.retention().rules().getFirst();
        assertThat(lab.raw()).isEqualTo(TimeSpans.parse("2d"));
        assertThat(lab.rollups()).containsExactly(new RetentionRule.Rollup(TimeSpans.parse("1m"), TimeSpans.parse("30d")),
                new RetentionRule.Rollup(TimeSpans.parse("1h"), RetentionRule.FOREVER));
        assertThat(t.retention().rules().get(1).raw()).isEqualTo(RetentionRule.FOREVER);
        assertThat(t.postgres().url()).isEqualTo("jdbc:postgresql://db:5432/iot");
        assertThat(t.postgres().passwordEnv()).hasValue("PG_PW");
        assertThat(t.postgres().pool()).isEqualTo(8);
    }

    @Test
    void badValuesNameTheFileLineAndKey() {
        assertThatThrownBy(() -> parse("[telemetry]\nstore = \"influx\"\n"))
                .hasMessageContaining("t.toml:2: telemetry.store: expected one of \"embedded\", \"postgres\"");
        assertThatThrownBy(() -> parse("[telemetry]\nmaintenance_interval = \"soon\"\n"))
                .hasMessageContaining("t.toml:2: telemetry.maintenance_interval").hasMessageContaining("not a length of time");
        assertThatThrownBy(() -> parse("[telemetry]\nkeys = [\"a.b*\"]\n"))
                .hasMessageContaining("telemetry.keys").hasMessageContaining("'*' and '#' must stand alone");
        assertThatThrownBy(() -> parse("[telemetry]\nbatches = 5\n"))
                .hasMessageContaining("telemetry.batches: unknown key");
        assertThatThrownBy(() -> parse("[[telemetry.retention]]\nraw = \"7d\"\nrollups = [{ every = \"1m\", keep = \"1d\" }]\n"))
                .hasMessageContaining("at least as long");
        assertThatThrownBy(() -> parse("[[telemetry.retention]]\nrollups = [{ every = \"1m\", kept = \"1d\" }]\n"))
                .hasMessageContaining("kept: unknown key");
        assertThatThrownBy(() -> parse("[telemetry.postgres]\nurl = \"postgres://x\"\n"))
                .hasMessageContaining("telemetry.postgres.url: expected a JDBC URL");
    }
}
