package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3Client;

import io.junction.core.testing.Tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The promise of QoS 1: a message the server acknowledged survives a kill -9 of the server, once and in order; and what
 * pass-through copied to the processed stream is there once, whatever the kill interrupted. Runs on the embedded log
 * and, in the engines profile ({@link EngineProfile}), on Kafka.
 */
class CrashRecoveryTest {

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedMessageSurvivesKillNineExactlyOnceAndInOrder() throws Exception {
        int mqtt = Tools.freePort();
        int http = Tools.freePort();
        Path config = ServerProcess.writeConfig(dir, mqtt, http, "always", """
                [engine]
                pass_through = ["#"]
                """);

        Process server = ServerProcess.start(config, dir.resolve("first.log"));
        ConcurrentSkipListSet<Integer> acked = new ConcurrentSkipListSet<>();
        try {
            ServerProcess.awaitHealthy(http, server, dir.resolve("first.log"));
            Mqtt3AsyncClient client = Mqtt3Client.builder().identifier("burst").serverHost("127.0.0.1").serverPort(mqtt)
                    .buildAsync();
            client.connect().get(10, TimeUnit.SECONDS);
            Semaphore window = new Semaphore(64);
            // Publish until the server is killed under the burst.
            Thread killer = Thread.ofVirtual().start(() -> {
                await().atMost(Duration.ofSeconds(30)).until(() -> acked.size() >= 2_000);
                server.destroyForcibly();
            });
            for (int seq = 0; seq < 200_000 && server.isAlive(); seq++) {
                if (!window.tryAcquire(2, TimeUnit.SECONDS)) {
                    break;
                }
                int s = seq;
                CompletableFuture<?> f = client.publishWith().topic("burst/seq").qos(MqttQos.AT_LEAST_ONCE)
                        .payload(("{\"seq\":" + s + "}").getBytes(StandardCharsets.UTF_8)).send();
                f.whenComplete((ack, error) -> {
                    if (error == null) {
                        acked.add(s);
                    }
                    window.release();
                });
            }
            killer.join();
            assertThat(server.waitFor(10, TimeUnit.SECONDS)).isTrue();
            client.disconnect();
        } finally {
            server.destroyForcibly();
        }
        assertThat(acked).hasSizeGreaterThanOrEqualTo(2_000);

        Process again = ServerProcess.start(config, dir.resolve("second.log"));
        try {
            ServerProcess.awaitHealthy(http, again, dir.resolve("second.log"));
            List<Integer> stored = burst(http, "raw");
            assertThat(stored).as("stored in publish order").isSorted();
            assertThat(stored).as("no message twice").doesNotHaveDuplicates();
            assertThat(stored).as("every acknowledged message").containsAll(acked);

            // Pass-through resumes from its committed offset and skips what it had copied before the kill.
            await().atMost(Duration.ofSeconds(60)).until(() -> burst(http, "processed").size() >= stored.size());
            List<Integer> copied = burst(http, "processed");
            assertThat(copied).as("processed: nothing twice").doesNotHaveDuplicates();
            assertThat(copied).as("processed: every stored message, in order").containsExactlyElementsOf(stored);

            // SIGTERM shuts the server down cleanly.
            again.destroy();
            assertThat(again.waitFor(20, TimeUnit.SECONDS)).as("stopped after SIGTERM").isTrue();
            assertThat(Files.readString(dir.resolve("second.log"))).contains("junction stopped");
        } finally {
            again.destroyForcibly();
        }
    }

    /** The {@code seq} of every {@code burst/seq} message of a stream, in offset order. */
    private static List<Integer> burst(int http, String stream) throws Exception {
        List<Integer> seqs = new ArrayList<>();
        long from = 0;
        while (true) {
            JsonNode page = Clients.get(http, "/api/streams/" + stream + "?from=" + from + "&limit=10000").json();
            for (JsonNode m : page.get("messages")) {
                if (m.get("topic").asText().equals("burst/seq")) {
                    seqs.add(m.get("body").get("seq").asInt());
                }
            }
            long next = page.get("next").asLong();
            if (page.get("messages").isEmpty() || next == from) {
                return seqs;
            }
            from = next;
        }
    }
}
