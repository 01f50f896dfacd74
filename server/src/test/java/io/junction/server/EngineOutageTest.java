package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3Client;

import io.junction.core.config.JunctionConfig;
import io.junction.core.testing.Tools;
import io.junction.scaleout.engines.KafkaServer;
import io.junction.scaleout.engines.KafkaTestServer;
import io.junction.scaleout.engines.RedisServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A node on engines that are missing or go away: start-up says which engine and where; while running, health names
 * the engine that is away, ingest pushes back, and everything resumes by itself when it returns, with nothing
 * acknowledged lost. Each test starts engines of its own, which it kills.
 */
class EngineOutageTest {

    @TempDir
    Path dir;

    @Test
    void anEngineThatDoesNotAnswerStopsTheStartSayingWhichWhereAndWhatSelectedIt() {
        int nothing = Tools.freePort();
        assertThatThrownBy(() -> Junction.start(Clients.config(dir, "never", """
                [status]
                engine = "redis"
                [redis]
                url = "redis://127.0.0.1:%d"
                """.formatted(nothing))))
                .isInstanceOf(StartupException.class)
                .hasMessageContaining("[status] engine = \"redis\"")
                .hasMessageContaining("redis at 127.0.0.1:" + nothing + " does not answer")
                .hasMessageContaining("./junction engines up");
        assertThatThrownBy(() -> Junction.start(Clients.config(dir, "never", """
                [state]
                engine = "postgres"
                [postgres]
                url = "jdbc:postgresql://127.0.0.1:%d/junction"
                """.formatted(nothing))))
                .isInstanceOf(StartupException.class)
                .hasMessageContaining("[state] engine = \"postgres\"")
                .hasMessageContaining("postgres at 127.0.0.1:" + nothing + "/junction does not answer");
        assertThatThrownBy(() -> Junction.start(Clients.config(dir, "never", """
                [streams]
                engine = "kafka"
                [kafka]
                bootstrap = "127.0.0.1:%d"
                """.formatted(nothing))))
                .isInstanceOf(StartupException.class)
                .hasMessageContaining("[streams] engine = \"kafka\"")
                .hasMessageContaining("kafka at 127.0.0.1:" + nothing + " does not answer");
    }

    @Test
    void kafkaKilledUnderQos1LoadIsReportedAndEveryAcknowledgedMessageIsThereOnceAfterItReturns() throws Exception {
        KafkaServer kafka = KafkaTestServer.startPrivate();
        try (Junction node = Junction.start(config("""
                [streams]
                engine = "kafka"
                [kafka]
                bootstrap = "%s"
                raw_topic = "outage.raw"
                processed_topic = "outage.processed"
                max_pending = 2000
                """.formatted(kafka.bootstrap())))) {
            int http = node.httpPort();
            assertThat(component(http, "kafka")).contains("ready");

            ConcurrentSkipListSet<Integer> acked = new ConcurrentSkipListSet<>();
            AtomicBoolean stop = new AtomicBoolean();
            Mqtt3AsyncClient client = Mqtt3Client.builder().identifier("outage").serverHost("127.0.0.1")
                    .serverPort(node.mqttPort()).buildAsync();
            client.connect().get(10, TimeUnit.SECONDS);
            Semaphore window = new Semaphore(64);
            Thread publisher = Thread.ofVirtual().start(() -> {
                for (int seq = 0; !stop.get(); seq++) {
                    try {
                        while (!window.tryAcquire(200, TimeUnit.MILLISECONDS)) {
                            if (stop.get()) {
                                return;
                            }
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    int s = seq;
                    CompletableFuture<?> f = client.publishWith().topic("outage/seq").qos(MqttQos.AT_LEAST_ONCE)
                            .payload(("{\"seq\":" + s + "}").getBytes(StandardCharsets.UTF_8)).send();
                    f.whenComplete((ack, error) -> {
                        if (error == null) {
                            acked.add(s);
                        }
                        window.release();
                    });
                }
            });
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> acked.size() >= 1_000);
                kafka.kill();
                await().atMost(Duration.ofSeconds(30)).until(() -> component(http, "kafka").orElse("").equals("failed"));
                assertThat(Clients.get(http, "/api/health").status()).as("not ready while kafka is away").isEqualTo(503);
                // Acknowledgements wait for Kafka: the count stops growing.
                int during = acked.size();
                Thread.sleep(1_000);
                assertThat(acked.size()).as("no PUBACK while kafka is away").isLessThanOrEqualTo(during + 64);

                kafka.restart();
                await().atMost(Duration.ofSeconds(60)).until(() -> component(http, "kafka").orElse("").equals("ready"));
                int after = acked.size();
                await().atMost(Duration.ofSeconds(60)).until(() -> acked.size() >= after + 1_000);
            } finally {
                stop.set(true);
                publisher.join(10_000);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> window.availablePermits() == 64);
            client.disconnect().get(10, TimeUnit.SECONDS);

            List<Integer> stored = seqs(http, "raw", "outage/seq");
            assertThat(stored).as("no message twice").doesNotHaveDuplicates();
            assertThat(stored).as("in publish order").isSorted();
            assertThat(stored).as("every acknowledged message").containsAll(acked);
        } finally {
            kafka.close();
        }
    }

    @Test
    void redisKilledIsReportedAndTheStatusCatchesUpWithWhatArrivedMeanwhile() throws Exception {
        RedisServer redis;
        try {
            redis = RedisServer.start(dir.resolve("redis"), Tools.freePort(), true);
        } catch (java.io.IOException e) {
            if (RedisServer.NOT_INSTALLED.equals(e.getMessage())) {
                Tools.missing(e.getMessage());
            }
            throw e;
        }
        try (Junction node = Junction.start(config("""
                [status]
                engine = "redis"
                [redis]
                url = "%s"
                """.formatted(redis.url())))) {
            int http = node.httpPort();
            int mqtt = node.mqttPort();
            publish(mqtt, "1");
            await().atMost(Duration.ofSeconds(10)).until(() -> level(http).equals(Optional.of(1)));

            redis.kill();
            await().atMost(Duration.ofSeconds(30)).until(() -> component(http, "redis").orElse("").equals("failed"));
            assertThat(Clients.get(http, "/api/health").status()).isEqualTo(503);
            // The raw stream is embedded: the publish is acknowledged; the status follower retries until Redis is back.
            publish(mqtt, "2");
            redis = redis.restart();
            await().atMost(Duration.ofSeconds(30)).until(() -> component(http, "redis").orElse("").equals("ready"));
            await().atMost(Duration.ofSeconds(30)).until(() -> level(http).equals(Optional.of(2)));
            assertThat(Clients.get(http, "/api/health").status()).isEqualTo(200);
        } finally {
            redis.close();
        }
    }

    private JunctionConfig config(String engines) {
        return Clients.config(dir, "never", engines);
    }

    private static void publish(int mqtt, String value) throws Exception {
        var pub = Clients.mosquittoPub(mqtt, "-q", "1", "-t", "tank/7/level", "-m", value);
        assertThat(pub.exit()).as(pub.output()).isZero();
    }

    /** The last value of the tank's level from the status, when there is one. */
    private static Optional<Integer> level(int http) throws Exception {
        Clients.Reply r = Clients.get(http, "/api/status?key=tank.7.level");
        if (r.status() != 200 || r.json() == null) {
            return Optional.empty();
        }
        JsonNode value = r.json().path("tank.7.level").path("body").path("value");
        return value.isInt() ? Optional.of(value.asInt()) : Optional.empty();
    }

    /** The status of one component in {@code /api/health}: ready, failed, ... */
    private static Optional<String> component(int http, String name) throws Exception {
        for (JsonNode c : Clients.get(http, "/api/health").json().path("components")) {
            if (c.path("name").asText().equals(name)) {
                return Optional.of(c.path("status").asText());
            }
        }
        return Optional.empty();
    }

    private static List<Integer> seqs(int http, String stream, String topic) throws Exception {
        List<Integer> seqs = new ArrayList<>();
        long from = 0;
        while (true) {
            JsonNode page = Clients.get(http, "/api/streams/" + stream + "?from=" + from + "&limit=10000").json();
            for (JsonNode m : page.get("messages")) {
                if (m.get("topic").asText().equals(topic)) {
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
