package io.junction.ota;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The [ota] section as the config loader reads it. */
class OtaSettingsTest {

    static OtaSettings parse(String toml) {
        return OtaSettings.read(Section.parse("t.toml", toml, Map.<String, String>of()::get));
    }

    @Test
    void anAbsentSectionMeansTheDefaults() {
        assertThat(parse("")).isEqualTo(OtaSettings.defaults());
    }

    @Test
    void everyKeyIsRead() {
        OtaSettings s = parse("""
                [ota]
                max_image_bytes = 1000
                signing_key = "k.pem"
                offer_timeout_seconds = 5
                download_timeout_seconds = 6
                chunk_bytes = 512
                max_attempts = 2
                public_url = "http://ota.example:8080/"
                image_cache_bytes = 0

                [ota.groups]
                "model-x" = ["dev1", "sensor-*"]
                """);
        assertThat(s.maxImageBytes()).isEqualTo(1000);
        assertThat(s.signingKey()).contains(Path.of("k.pem"));
        assertThat(s.offerTimeoutSeconds()).isEqualTo(5);
        assertThat(s.downloadTimeoutSeconds()).isEqualTo(6);
        assertThat(s.chunkBytes()).isEqualTo(512);
        assertThat(s.maxAttempts()).isEqualTo(2);
        assertThat(s.publicUrl()).isEqualTo("http://ota.example:8080");
        assertThat(s.groups()).containsEntry("model-x", List.of("dev1", "sensor-*"));
    }

    @Test
    void badValuesAreRefusedWithTheLineAndWhatIsExpected() {
        assertThatThrownBy(() -> parse("[ota]\nchunk_bytes = 1\n")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("t.toml:2").hasMessageContaining("ota.chunk_bytes");
        assertThatThrownBy(() -> parse("[ota]\nsigning_key = \"a\"\nsigning_key_env = \"B\"\n")).hasMessageContaining("not both");
        assertThatThrownBy(() -> parse("[ota]\nchunk = 4\n")).hasMessageContaining("unknown key");
        assertThatThrownBy(() -> parse("[ota.groups]\n\"g\" = [\"a/b\"]\n")).hasMessageContaining("not a device uid");
        assertThatThrownBy(() -> parse("[ota]\npublic_url = \"ftp://x\"\n")).hasMessageContaining("public_url");
    }
}
