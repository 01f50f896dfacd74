package io.junction.server.telemetry;

import io.junction.server.ServerProcess;

import com.fasterxml.jackson.databind.JsonNode;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3Client;

import io.junction.core.testing.Tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The writer keeps its offset with its points: a server killed with kill -9 while it is storing batches resumes after
 * the restart exactly where its last stored batch ended, so every message in the stream becomes its points once.
 */
class TelemetryRestartTest {

    @TempDir
    Path dir;

    @Test
    void aKillNineInTheMiddleOfABatchLosesAndDuplicatesNothing() throws Exception {
        int mqtt = Tools.freePort();
        int http = Tools.freePort();
        // Small batches, so that the kill lands among many of them.
        Path config = ServerProcess.writeConfig(dir, mqtt, http, "never", """
                [telemetry]
                batch = 50
                """);

        // Kill the server while the writer is behind the stream (its lag gauge above 0), then restart it; up to six
        // rounds, until one restart resumed behind the end of the stream, i.e. the kill came between batches being stored
        // (the lag can close between reading the gauge and the kill, so a round may miss; six give it room on a busy machine).
        AtomicInteger acked = new AtomicInteger();
        AtomicInteger seq = new AtomicInteger();
        boolean resumedBehind = false;
        for (int round = 1; round <= 6 && !resumedBehind; round++) {
            Path log = dir.resolve("round" + round + ".log");
            Process server = ServerProcess.start(config, log);
            try {
                ServerProcess.awaitHealthy(http, server, log);
                if (round > 1) {
                    resumedBehind = resumedBehind(log);
                }
                burstAndKill(mqtt, http, server, acked, seq, 3_000 * round);
            } finally {
                server.destroyForcibly();
            }
        }

        Path last = dir.resolve("last.log");
        Process again = ServerProcess.start(config, last);
        try {
            ServerProcess.awaitHealthy(http, again, last);
            resumedBehind |= resumedBehind(last);
            assertThat(resumedBehind).as("a restart resumed behind the end of the stream (a kill landed between batches)").isTrue();
            List<Long> inStream = streamSeqs(http);
            assertThat(inStream.size()).isGreaterThanOrEqualTo(acked.get());
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> storedPoints(http) >= inStream.size());
            List<Long> stored = storedSeqs(http);
            assertThat(stored).as("no message stored twice").doesNotHaveDuplicates();
            assertThat(stored).as("every message in the stream stored, and nothing else").containsExactlyInAnyOrderElementsOf(inStream);
            JsonNode count = TelemetryClients.get(http, "/api/telemetry/query?key=burst.seq&field=env.t&fn=count&every=1d&from=-1d")
                    .json().get("series").get(0).get("points");
            long counted = 0;
            for (JsonNode p : count) {
                counted += p.get(1).asLong();
            }
            assertThat(counted).as("the nested field, counted by the store").isEqualTo(inStream.size());
        } finally {
            again.destroyForcibly();
        }
    }

    /** Publishes QoS 1 messages until {@code ackedAtLeast} are acknowledged and the writer lags, then kills the server. */
    private static void burstAndKill(int mqtt, int http, Process server, AtomicInteger acked, AtomicInteger seq, int ackedAtLeast)
            throws Exception {
        Mqtt3AsyncClient client = Mqtt3Client.builder().identifier("burst").serverHost("127.0.0.1").serverPort(mqtt).buildAsync();
        client.connect().get(10, TimeUnit.SECONDS);
        Semaphore window = new Semaphore(64);
        Thread killer = Thread.ofVirtual().start(() -> {
            try {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                        .until(() -> acked.get() >= ackedAtLeast && writerLag(http) > 0);
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                // kill anyway; the round may not count
            }
            server.destroyForcibly();
        });
        while (server.isAlive()) {
            if (!window.tryAcquire(2, TimeUnit.SECONDS)) {
                break;
            }
            int s = seq.getAndIncrement();
            CompletableFuture<?> f = client.publishWith().topic("burst/seq").qos(MqttQos.AT_LEAST_ONCE)
                    .payload(("{\"seq\":" + s + ",\"env\":{\"t\":" + (s % 40) + "}}").getBytes(StandardCharsets.UTF_8)).send();
            f.whenComplete((ack, error) -> {
                if (error == null) {
                    acked.incrementAndGet();
                }
                window.release();
            });
        }
        killer.join();
        assertThat(server.waitFor(10, TimeUnit.SECONDS)).isTrue();
        client.disconnect();
    }

    private static long writerLag(int http) {
        try {
            for (String line : TelemetryClients.get(http, "/metrics").text().split("\n")) {
                if (line.startsWith("junction_telemetry_writer_lag")) {
                    return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            // not answering: no lag known
        }
        return 0;
    }

    /** Whether the writer's start line in this log says it resumed behind the end of the stream. */
    private static boolean resumedBehind(Path log) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("telemetry writer started stream=raw from=(\\d+) end=(\\d+)")
                .matcher(Files.readString(log));
        assertThat(m.find()).as("the writer's start line in " + log.getFileName()).isTrue();
        return Long.parseLong(m.group(1)) < Long.parseLong(m.group(2));
    }

    private static long storedPoints(int http) {
        try {
            TelemetryClients.Reply r = TelemetryClients.get(http, "/api/telemetry/query?key=burst.seq&field=seq&fn=count&every=1d&from=-1d");
            if (r.status() != 200 || r.json().get("series").isEmpty()) {
                return 0;
            }
            long n = 0;
            for (JsonNode p : r.json().get("series").get(0).get("points")) {
                n += p.get(1).asLong();
            }
            return n;
        } catch (IOException | InterruptedException e) {
            return 0;
        }
    }

    private static List<Long> storedSeqs(int http) throws Exception {
        TelemetryClients.Reply r = TelemetryClients.get(http, "/api/telemetry/query?key=burst.seq&field=seq&fn=raw&from=-1d&limit=100000");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        List<Long> out = new ArrayList<>();
        for (JsonNode p : r.json().get("series").get(0).get("points")) {
            out.add(p.get(1).asLong());
        }
        return out;
    }

    private static List<Long> streamSeqs(int http) throws Exception {
        List<Long> out = new ArrayList<>();
        long from = 0;
        while (true) {
            JsonNode page = TelemetryClients.get(http, "/api/streams/raw?from=" + from + "&limit=10000").json();
            for (JsonNode m : page.get("messages")) {
                if (m.get("topic").asText().equals("burst/seq")) {
                    out.add(m.get("body").get("seq").asLong());
                }
            }
            long next = page.get("next").asLong();
            if (page.get("messages").isEmpty() || next == from) {
                return out;
            }
            from = next;
        }
    }
}
