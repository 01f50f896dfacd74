package io.junction.server.ota;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.config.JunctionConfig;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OTA's state in the real server: it shows in {@code /api/health}, an old {@code ota/state.json} is imported into the
 * state store (SQLite in the data directory) on the first start, and what the API changes survives a restart.
 */
class OtaStateEndToEndTest {

    @TempDir
    Path dir;

    @Test
    void anOldStateFileIsImportedAndTheStateSurvivesARestart() throws Exception {
        Path ota = dir.resolve("data/ota");
        Files.createDirectories(ota.resolve("images"));
        byte[] image = "firmware".getBytes();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(image));
        Files.write(ota.resolve("images/0123456789ab.bin"), image);
        // The format of <data>/ota/state.json before the state port.
        Files.writeString(ota.resolve("state.json"), """
                {"format":1,"offset":0,
                 "packages":[{"id":"0123456789ab","version":"1.0.0","target":"old-model","notes":"","size":8,
                              "sha256":"%s","signature":null,"createdAt":1764547200000}],
                 "groups":{"old-group":["o1"]},
                 "rollouts":[],
                 "devices":[{"uid":"o1","version":"0.9.0","versionAt":1764547200000,"encoding":"JSON","seenAt":1764547200000}]}
                """.formatted(sha));
        JunctionConfig config = Clients.config(dir, "always", "");

        String rollout;
        try (Junction node = Junction.start(config)) {
            Http http = new Http(node.httpPort());
            JsonNode health = http.get("/api/health").json();
            assertThat(health.path("components").toString()).contains("{\"name\":\"ota\",\"status\":\"ready\"");

            assertThat(http.get("/api/ota/packages").json().get("packages").findValuesAsText("id")).containsExactly("0123456789ab");
            assertThat(http.get("/ota/images/0123456789ab").body()).isEqualTo(image);
            assertThat(http.get("/api/ota/groups/old-group").json().get("devices").toString()).isEqualTo("[\"o1\"]");
            assertThat(http.get("/api/ota/devices/o1").json().get("firmwareVersion").asText()).isEqualTo("0.9.0");
            assertThat(Files.exists(ota.resolve("state.json.imported"))).isTrue();

            rollout = http.post("/api/ota/rollouts", "{\"package\":\"0123456789ab\",\"group\":\"old-group\",\"stages\":[50,100]}")
                    .json().get("id").asText();
            assertThat(http.post("/api/ota/rollouts/" + rollout + "/pause", "").status()).isEqualTo(200);
            assertThat(http.put("/api/ota/groups/new-group", "{\"devices\":[\"n1\",\"n-*\"]}").status()).isEqualTo(200);
        }
        assertThat(Files.exists(dir.resolve("data/state/state.db"))).isTrue();

        try (Junction node = Junction.start(config)) {
            Http http = new Http(node.httpPort());
            JsonNode view = http.get("/api/ota/rollouts/" + rollout).json();
            assertThat(view.get("status").asText()).isEqualTo("paused");
            assertThat(view.get("stages").toString()).isEqualTo("[50,100]");
            assertThat(view.get("devices").findValuesAsText("uid")).isEqualTo(List.of("o1"));
            assertThat(http.get("/api/ota/groups").json().get("groups").findValuesAsText("name"))
                    .containsExactly("new-group", "old-group");
            assertThat(http.get("/api/ota/packages/0123456789ab").json().get("rollouts").get(0).get("status").asText())
                    .isEqualTo("paused");
        }
    }
}
