package io.junction.engine;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EngineSettingsTest {

    static EngineSettings parse(String toml) {
        return EngineSettings.read(Section.parse("j.toml", toml, Map.<String, String>of()::get));
    }

    @Test
    void theEngineSectionIsReadWithDefaultsForWhatIsLeftOut() {
        EngineSettings d = parse("");
        assertThat(d).isEqualTo(EngineSettings.defaults());
        assertThat(d.timeLimitMillis()).isEqualTo(1_000);
        assertThat(d.memoryLimitBytes()).isEqualTo(64L * 1024 * 1024);

        EngineSettings s = parse("""
                [engine]
                time_limit_ms = 250
                memory_limit_mb = 16
                failures_before_suspend = 3
                pass_through = ["bedroom.#", "*.status"]
                plugins = "/srv/plugins"
                threads = 4
                """);
        assertThat(s.timeLimitMillis()).isEqualTo(250);
        assertThat(s.memoryLimitBytes()).isEqualTo(16L * 1024 * 1024);
        assertThat(s.failuresBeforeSuspend()).isEqualTo(3);
        assertThat(s.passThrough()).isEqualTo(List.of("bedroom.#", "*.status"));
        assertThat(s.plugins()).contains(Path.of("/srv/plugins"));
        assertThat(s.threads()).isEqualTo(4);
    }

    @Test
    void badEngineSettingsAreRefusedWithTheLineAndWhatIsExpected() {
        assertThatThrownBy(() -> parse("[engine]\npass_through = [\"a.b*\"]\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("j.toml:2").hasMessageContaining("pass_through");
        assertThatThrownBy(() -> parse("[engine]\n\ntime_limit_ms = 0\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("j.toml:3").hasMessageContaining("from 10 to");
        assertThatThrownBy(() -> parse("[engine]\ntimeout = 5\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("unknown key").hasMessageContaining("time_limit_ms");
    }
}
