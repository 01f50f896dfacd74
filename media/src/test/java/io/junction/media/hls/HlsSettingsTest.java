package io.junction.media.hls;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HlsSettingsTest {

    static final Map<String, String> ENV = Map.of("HLS_KEY", "0123456789abcdef0123456789abcdef", "SHORT", "abc");

    static HlsSettings read(String toml) {
        return HlsSettings.read(Section.parse("t.toml", toml, ENV::get).table("hls"));
    }

    @Test
    void withoutASectionAnyOriginMayPlayAndNothingIsSigned() {
        HlsSettings s = read("");
        assertThat(s).isEqualTo(HlsSettings.defaults());
        assertThat(s.anyOrigin()).isTrue();
        assertThat(s.signed("live")).isFalse();
    }

    @Test
    void aKeyFromTheEnvironmentSignsEveryWorkflowUnlessSomeAreNamed() {
        HlsSettings all = read("[hls]\nsigning_key_env = \"HLS_KEY\"\n");
        assertThat(all.signingKey()).hasValue(ENV.get("HLS_KEY"));
        assertThat(all.signed("anything")).isTrue();
        assertThat(all.toString()).doesNotContain(ENV.get("HLS_KEY"));

        HlsSettings some = read("[hls]\nsigning_key_env = \"HLS_KEY\"\nsigned_workflows = [\"private\"]\nallowed_origins = [\"https://player.example\", \"http://127.0.0.1:8000\"]\n");
        assertThat(some.signed("private")).isTrue();
        assertThat(some.signed("live")).isFalse();
        assertThat(some.anyOrigin()).isFalse();
        assertThat(some.allowedOrigins()).containsExactly("https://player.example", "http://127.0.0.1:8000");
    }

    @Test
    void badValuesAreRefusedWithTheKeyAndWhatIsExpected() {
        assertThatThrownBy(() -> read("[hls]\nsigned_workflows = [\"private\"]\n")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("t.toml").hasMessageContaining("signed_workflows").hasMessageContaining("signing_key_env");
        assertThatThrownBy(() -> read("[hls]\nsigning_key_env = \"SHORT\"\n")).hasMessageContaining("at least 16 bytes");
        assertThatThrownBy(() -> read("[hls]\nsigning_key_env = \"UNSET\"\n")).hasMessageContaining("UNSET is not set");
        assertThatThrownBy(() -> read("[hls]\nallowed_origins = [\"https://player.example/\"]\n"))
                .hasMessageContaining("allowed_origins").hasMessageContaining("no trailing '/'");
        assertThatThrownBy(() -> read("[hls]\nallowed_origins = [\"*\", \"https://a.example\"]\n")).hasMessageContaining("alone");
        assertThatThrownBy(() -> read("[hls]\nsigning_key_env = \"HLS_KEY\"\nsigned_workflows = [\"a b\"]\n"))
                .hasMessageContaining("signed_workflows");
        assertThatThrownBy(() -> read("[hls]\nmax_signed_seconds = 0\n")).hasMessageContaining("max_signed_seconds");
        assertThatThrownBy(() -> read("[hls]\nallowed_origin = [\"*\"]\n")).hasMessageContaining("allowed_origin");
        assertThatThrownBy(() -> new HlsSettings(List.of("*"), Optional.empty(), List.of("x"), 60))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
