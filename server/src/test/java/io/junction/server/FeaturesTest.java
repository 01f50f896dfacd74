package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.config.ConfigException;
import io.junction.core.config.JunctionConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The composition root's feature list: every feature shows in the hub, and secrets come from the injected environment. */
class FeaturesTest {

    @TempDir
    Path dir;

    @Test
    void everyComponentIsListedAndReadyInHealthOnADefaultStart() throws Exception {
        // Also in the engines profile, where the engines are components too.
        try (Junction node = Junction.start(Clients.config(dir, "always", ""))) {
            Clients.Reply health = Clients.get(node.httpPort(), "/api/health");
            assertThat(health.status()).as(health.text()).isEqualTo(200);
            assertThat(health.json().path("status").asText()).isEqualTo("ok");
            List<String> names = new ArrayList<>();
            for (JsonNode c : health.json().path("components")) {
                names.add(c.path("name").asText());
                assertThat(c.path("status").asText()).as(c.toString()).isEqualTo("ready");
            }
            List<String> expected = new ArrayList<>(List.of("store", "mqtt", "http",
                    "auth", "devices", "engine", "telemetry", "ota", "media"));
            // Every scale-out engine in use is a component of its own, so health names the one that is away.
            for (String engine : List.of("kafka", "redis", "postgres")) {
                if (EngineProfile.selected(engine)) {
                    expected.add(engine);
                }
            }
            assertThat(names).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    void aSecretGivenThroughTheInjectedEnvironmentIsUsed() throws Exception {
        KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        String pem = "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(pair.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n";
        JunctionConfig config = Junction.configLoader(Map.of("JUNCTION_ADMIN_PASSWORD", Clients.ADMIN_PASSWORD,
                "TEST_OTA_SIGNING_KEY", pem)).parse("env.toml", base() + """
                [ota]
                signing_key_env = "TEST_OTA_SIGNING_KEY"
                """);
        try (Junction node = Junction.start(config)) {
            Clients.Reply key = Clients.get(node.httpPort(), "/api/ota/signing-key");
            assertThat(key.status()).as(key.text()).isEqualTo(200);
            assertThat(key.json().path("publicKey").asText())
                    .isEqualTo(Base64.getEncoder().encodeToString(pair.getPublic().getEncoded()));
        }
    }

    @Test
    void aVariableOnlyTheProcessHasIsNotSeen() {
        // PATH is set in every process environment, but not in the injected one: the feature must not find it.
        JunctionConfig config = Junction.configLoader(Map.of("JUNCTION_ADMIN_PASSWORD", Clients.ADMIN_PASSWORD))
                .parse("env.toml", base() + """
                        [ota]
                        signing_key_env = "PATH"
                        """);
        assertThatThrownBy(() -> Junction.start(config)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("ota.signing_key_env: the environment variable PATH is not set");
    }

    @Test
    void aLoaderOfTheSpineAloneRefusesFeatureSectionsAndTheFeaturesLoaderTakesThem() {
        String text = base() + "[telemetry]\nenabled = false\n";
        assertThatThrownBy(() -> new io.junction.core.config.ConfigLoader(k -> null).parse("t.toml", text))
                .isInstanceOf(ConfigException.class).hasMessageContaining("t.toml:").hasMessageContaining("telemetry: unknown key");
        JunctionConfig config = Junction.configLoader(Map.of()).parse("t.toml", text);
        assertThat(config.features()).containsOnlyKeys("engines", "auth", "devices", "engine", "telemetry", "ota", "media");
    }

    private String base() {
        return Clients.baseToml(dir) + "\n";
    }
}
