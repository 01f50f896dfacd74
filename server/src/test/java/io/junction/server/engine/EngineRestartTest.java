package io.junction.server.engine;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.config.JunctionConfig;
import io.junction.server.Junction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A server restart: every script comes back at its own offset, and nothing is processed twice. */
class EngineRestartTest {

    @TempDir
    Path dir;

    static long count(int http, String key) throws Exception {
        return EngineClients.processed(http, 0).stream().filter(x -> x.get("key").asText().equals(key)).count();
    }

    static void publish(int mqtt, int from, int to) throws Exception {
        try (EngineClients.Device device = new EngineClients.Device(mqtt, "restart-device")) {
            for (int i = from; i < to; i++) {
                device.publish("bedroom/" + (i % 2 == 0 ? "temp" : "hum"), "{\"value\":" + i + "}");
            }
            device.drain();
        }
    }

    @Test
    void aRestartResumesEachScriptAtItsOffset() throws Exception {
        JunctionConfig config = EngineClients.config(dir, "");
        Junction node = Junction.start(config);
        long tempOffset;
        long allOffset;
        try {
            int http = node.httpPort();
            EngineClients.putScript(http, "temps", "javascript",
                    "function process(m) { return {key: 'out.temp', body: {n: m.body.value}}; }", "bedroom.temp");
            EngineClients.putScript(http, "all", "wasm", EngineEndToEndTest.PCT_WASM, "bedroom.*");
            publish(node.mqttPort(), 0, 40);
            await().atMost(Duration.ofSeconds(30)).until(() -> count(http, "out.temp") == 20 && count(http, "bedroom.hum_pct") == 20);
            // A script's follower also moves past messages its patterns do not take (the last one is a "hum"), and
            // commits that once idle: wait for both to have committed the end of the raw stream before the restart.
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    EngineClients.get(http, "/api/scripts/temps").json().get("offset").asLong() == 40
                            && EngineClients.get(http, "/api/scripts/all").json().get("offset").asLong() == 40);
            tempOffset = EngineClients.get(http, "/api/scripts/temps").json().get("offset").asLong();
            allOffset = EngineClients.get(http, "/api/scripts/all").json().get("offset").asLong();
        } finally {
            node.close();
        }

        Junction again = Junction.start(config);
        try {
            int http = again.httpPort();
            JsonNode temps = EngineClients.get(http, "/api/scripts/temps").json();
            JsonNode all = EngineClients.get(http, "/api/scripts/all").json();
            assertThat(temps.get("offset").asLong()).isEqualTo(tempOffset);
            assertThat(all.get("offset").asLong()).isEqualTo(allOffset);
            assertThat(temps.get("version").asInt()).isEqualTo(1);

            publish(again.mqttPort(), 40, 60);
            await().atMost(Duration.ofSeconds(30)).until(() -> count(http, "out.temp") >= 30 && count(http, "bedroom.hum_pct") >= 30);
            List<Integer> sources = EngineClients.processed(http, 0).stream()
                    .filter(x -> x.get("key").asText().equals("out.temp")).map(x -> x.get("body").get("n").asInt()).toList();
            assertThat(sources).hasSize(30).doesNotHaveDuplicates();
            assertThat(count(http, "bedroom.temp_pct") + count(http, "bedroom.hum_pct")).isEqualTo(60);
            assertThat(EngineClients.get(http, "/api/scripts/temps").json().get("counters").get("in").asInt())
                    .as("only the messages published after the restart ran").isEqualTo(10);
        } finally {
            again.close();
        }
    }
}
