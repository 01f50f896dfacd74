package io.junction.core.config;

import io.junction.core.auth.PasswordHash;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {

    private final ConfigLoader loader = new ConfigLoader(Map.of("TLS_PASS", "s3cret")::get);

    @Test
    void theDocumentedExampleConfigLoadsAsWritten() {
        JunctionConfig c = loader.parse("junction.toml", """
                [mqtt]
                port = 18830
                anonymous = true            # default false

                [http]
                port = 18080

                [data]
                dir = "/tmp/junction-demo"

                [mapping.devices]
                "mesh/b5ea3f/42" = "bedroom.light"

                [mapping.subtopics]
                "M" = "brightness"

                [mapping.types]
                input = "status"
                output = "command"
                """);
        assertThat(c.mqtt().port()).isEqualTo(18830);
        assertThat(c.mqtt().anonymous()).isTrue();
        assertThat(c.http().port()).isEqualTo(18080);
        assertThat(c.data().dir()).isEqualTo(Path.of("/tmp/junction-demo"));
        assertThat(c.data().fsync()).isEqualTo(JunctionConfig.Fsync.ALWAYS);
        assertThat(c.mapping().devices()).containsEntry("mesh/b5ea3f/42", "bedroom.light");
        assertThat(c.mapping().subtopics()).containsEntry("M", "brightness");
        assertThat(c.mapping().input()).isEqualTo("status");
    }

    @Test
    void anEmptyFileMeansEveryDefault() {
        JunctionConfig c = loader.parse("empty.toml", "");
        JunctionConfig d = JunctionConfig.defaults();
        assertThat(c.mqtt()).isEqualTo(d.mqtt());
        assertThat(c.http()).isEqualTo(d.http());
        assertThat(c.data()).isEqualTo(d.data());
        assertThat(c.mqtt().anonymous()).isFalse();
        assertThat(c.mqtt().maxPayloadBytes()).isEqualTo(256 * 1024);
    }

    @Test
    void anUnknownKeyIsRejectedWithFileLineAndTheAllowedKeys() {
        assertThatThrownBy(() -> loader.parse("junction.toml", """
                [mqtt]
                port = 1883
                prot = 1884
                """))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("junction.toml:3: mqtt.prot: unknown key")
                .hasMessageContaining("port");
        assertThatThrownBy(() -> loader.parse("junction.toml", "[nonsense]\nx = 1\n"))
                .hasMessageStartingWith("junction.toml:1: nonsense: unknown key");
    }

    @Test
    void badValuesSayWhatIsExpected() {
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nport = \"abc\"\n"))
                .hasMessage("j.toml:2: mqtt.port: expected a whole number from 0 to 65535, got \"abc\"");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nport = 70000\n"))
                .hasMessageContaining("got 70000");
        assertThatThrownBy(() -> loader.parse("j.toml", "[data]\nfsync = \"sometimes\"\n"))
                .hasMessageContaining("expected one of \"always\", \"interval\", \"never\"");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nanonymous = 1\n"))
                .hasMessageContaining("expected true or false");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mapping.devices]\n\"mesh/1\" = \"bad key\"\n"))
                .hasMessageContaining("not a valid routing key");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt\nport = 1\n"))
                .hasMessageStartingWith("j.toml:1: this is not valid TOML");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nport = 9000\n[http]\nport = 9000\n"))
                .hasMessageContaining("also the MQTT port");
    }

    @Test
    void usersNeedAPasswordHashNeverAPlainPassword() {
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt.users.dev42]\npassword = \"hunter2\"\n"))
                .hasMessageStartingWith("j.toml:2: mqtt.users.dev42.password: must be a password hash");
        String hash = PasswordHash.hash("pw".toCharArray(), 1000);
        JunctionConfig c = loader.parse("j.toml", "[mqtt.users.dev42]\npassword = \"" + hash + "\"\npublish = [\"mesh/dev42/#\"]\n");
        JunctionConfig.User u = c.mqtt().users().get("dev42");
        assertThat(u.device()).isEqualTo("dev42");
        assertThat(u.publish()).containsExactly("mesh/dev42/#");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt.users.d]\npassword = \"" + hash + "\"\nsubscribe = [\"a/#/b\"]\n"))
                .hasMessageContaining("not a valid MQTT topic filter");
    }

    @Test
    void tlsKeyPasswordMayComeFromTheEnvironment() {
        JunctionConfig c = loader.parse("j.toml", "[mqtt.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nkey_password_env = \"TLS_PASS\"\n");
        assertThat(c.mqtt().tls()).hasValueSatisfying(t -> {
            assertThat(t.port()).isEqualTo(8883);
            assertThat(t.keyPassword()).contains("s3cret");
        });
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nkey_password_env = \"NOPE\"\n"))
                .hasMessageContaining("environment variable NOPE is not set");
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt.tls]\ncert = \"c.pem\"\n"))
                .hasMessageContaining("mqtt.tls.key: is required");
    }
}
