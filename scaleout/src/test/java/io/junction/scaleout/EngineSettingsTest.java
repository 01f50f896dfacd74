package io.junction.scaleout;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EngineSettingsTest {

    private static EngineSettings read(String toml, Map<String, String> env) {
        Section root = Section.parse("junction.toml", toml, env::get);
        EngineSettings settings = EngineSettings.read(root);
        root.finish();
        return settings;
    }

    private static EngineSettings read(String toml) {
        return read(toml, Map.of());
    }

    @Test
    void everythingIsEmbeddedByDefault() {
        EngineSettings s = read("");
        assertThat(s).isEqualTo(EngineSettings.defaults());
        assertThat(s.anyScaleOut()).isFalse();
    }

    @Test
    void eachPortChoosesItsEngineIndependently() {
        EngineSettings s = read("""
                [streams]
                engine = "kafka"
                [state]
                engine = "postgres"
                [kafka]
                bootstrap = "10.0.0.1:9092,10.0.0.2:9092"
                raw_topic = "site.raw"
                max_pending = 500
                [kafka.properties]
                "security.protocol" = "SASL_PLAINTEXT"
                [kafka.properties_env]
                "sasl.jaas.config" = "KAFKA_JAAS"
                [postgres]
                url = "jdbc:postgresql://db:5432/junction"
                user = "j"
                password_env = "PGPASS"
                pool = 3
                """, Map.of("KAFKA_JAAS", "org.apache.kafka.common.security.plain.PlainLoginModule required;", "PGPASS", "s3cret"));
        assertThat(s.streams()).isEqualTo(EngineSettings.StreamsEngine.KAFKA);
        assertThat(s.status()).isEqualTo(EngineSettings.StatusEngine.EMBEDDED);
        assertThat(s.state()).isEqualTo(EngineSettings.StateEngine.POSTGRES);
        assertThat(s.kafka().bootstrap()).isEqualTo("10.0.0.1:9092,10.0.0.2:9092");
        assertThat(s.kafka().topic("raw")).isEqualTo("site.raw");
        assertThat(s.kafka().topic("processed")).isEqualTo("junction.processed");
        assertThat(s.kafka().maxPending()).isEqualTo(500);
        assertThat(s.kafka().properties()).containsEntry("security.protocol", "SASL_PLAINTEXT")
                .containsEntry("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required;");
        assertThat(s.postgres().password()).isEqualTo("s3cret");
        assertThat(s.postgres().pool()).isEqualTo(3);
        assertThat(s.postgres().toString()).doesNotContain("s3cret");
        assertThat(s.postgres().where()).isEqualTo("db:5432/junction");
    }

    @Test
    void theRedisPasswordComesFromTheEnvironmentAndNeverShows() {
        EngineSettings s = read("""
                [status]
                engine = "redis"
                [redis]
                url = "redis://cache:6380/2"
                password_env = "REDIS_PASSWORD"
                """, Map.of("REDIS_PASSWORD", "p@ss word"));
        assertThat(s.status()).isEqualTo(EngineSettings.StatusEngine.REDIS);
        assertThat(s.redis().url()).isEqualTo("redis://default:p%40ss+word@cache:6380/2");
        assertThat(s.redis().where()).isEqualTo("cache:6380");
        assertThat(s.redis().toString()).doesNotContain("p@ss");
    }

    @Test
    void badValuesAreRejectedWithTheFileTheKeyAndWhatIsExpected() {
        assertThatThrownBy(() -> read("[streams]\nengine = \"pulsar\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("junction.toml").hasMessageContaining("engine")
                .hasMessageContaining("kafka");
        assertThatThrownBy(() -> read("[kafka]\nbootstrap = \"nohost\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bootstrap").hasMessageContaining("host:port");
        assertThatThrownBy(() -> read("[kafka]\nraw_topic = \"a b\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("raw_topic");
        assertThatThrownBy(() -> read("[kafka]\nraw_topic = \"x\"\nprocessed_topic = \"x\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("must differ");
        assertThatThrownBy(() -> read("[kafka.properties]\n\"acks\" = \"1\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("acks");
        assertThatThrownBy(() -> read("[kafka.properties_env]\n\"sasl.jaas.config\" = \"UNSET_VAR\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("UNSET_VAR");
        assertThatThrownBy(() -> read("[redis]\nurl = \"http://x:1\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("redis://");
        assertThatThrownBy(() -> read("[redis]\nurl = \"redis://u:pw@x:1\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("password_env");
        assertThatThrownBy(() -> read("[postgres]\nurl = \"postgres://x\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("jdbc:postgresql://");
        assertThatThrownBy(() -> read("[postgres]\npassword_env = \"NOPE\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("NOPE");
        assertThatThrownBy(() -> read("[state]\nengine = \"postgres\"\nurl = \"x\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("url");
    }
}
