package io.junction.scaleout.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
import io.junction.core.stream.StreamFullException;
import io.junction.core.testing.Tools;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.KafkaServer;
import io.junction.scaleout.engines.KafkaTestServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.LongStream;

import static io.junction.scaleout.kafka.KafkaTesting.fresh;
import static io.junction.scaleout.kafka.KafkaTesting.freshTopic;
import static io.junction.scaleout.kafka.KafkaTesting.message;
import static io.junction.scaleout.kafka.KafkaTesting.readAll;
import static io.junction.scaleout.kafka.KafkaTesting.settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** What is particular to streams on Kafka: the acknowledgement promise, Kafka going away, foreign records, layout. */
@Timeout(180)
class KafkaStreamTest {

    /** A broker of this class's own, for the tests that stop or kill it; started on first use. */
    private static KafkaServer privateBroker;

    /** The private broker, running: started on first use, and started again when a failed test left it stopped. */
    private static synchronized KafkaServer privateBroker() throws IOException {
        if (privateBroker == null) {
            privateBroker = KafkaTestServer.startPrivate();
        }
        String[] hostPort = privateBroker.bootstrap().split(":");
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 1_000);
        } catch (IOException e) {
            privateBroker.restart();
        }
        return privateBroker;
    }

    @AfterAll
    static void stopPrivateBroker() {
        if (privateBroker != null) {
            privateBroker.kill();
        }
    }

    @Test
    void anAppendCompletesWithAnOffsetAFreshConsumerCanReadAndOtherToolsCanParse() throws Exception {
        KafkaStream.Settings settings = fresh(1_000);
        try (KafkaStream stream = KafkaStream.open("raw", settings, new SimpleMeterRegistry(), EngineHealth.NONE)) {
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (long n = 0; n < 200; n++) {
                futures.add(stream.append(message(n)));
            }
            Map<Long, ConsumerRecord<byte[], byte[]>> seen = new HashMap<>();
            try (KafkaConsumer<byte[], byte[]> fresh = consumer(settings.bootstrap())) {
                TopicPartition tp = new TopicPartition(settings.topic(), 0);
                fresh.assign(List.of(tp));
                for (int i = 0; i < futures.size(); i++) {
                    long offset = futures.get(i).get(30, TimeUnit.SECONDS);
                    assertThat(offset).isEqualTo(i);
                    // Acknowledged means readable: the record is there for a consumer that was not involved.
                    fresh.seek(tp, offset);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!seen.containsKey(offset) && System.nanoTime() < deadline) {
                        for (ConsumerRecord<byte[], byte[]> r : fresh.poll(Duration.ofMillis(100))) {
                            seen.putIfAbsent(r.offset(), r);
                        }
                    }
                    assertThat(seen).as("offset %d is readable once acknowledged", offset).containsKey(offset);
                }
            }
            ConsumerRecord<byte[], byte[]> r = seen.get(7L);
            Message m = message(7);
            assertThat(new String(r.key(), StandardCharsets.UTF_8)).as("keyed by device").isEqualTo(m.device());
            assertThat(r.timestamp()).as("the record time is the message time").isEqualTo(m.ts());
            JsonNode value = Json.parse(new String(r.value(), StandardCharsets.UTF_8));
            assertThat(value.get("id").asText()).isEqualTo(m.id());
            assertThat(value.get("key").asText()).isEqualTo(m.key().value());
            assertThat(value.get("body").isObject()).as("the body is JSON, not a string holding JSON").isTrue();
            assertThat(value.get("body").get("n").asLong()).isEqualTo(7);
            assertThat(stream.read(7, 1).getFirst().message()).isEqualTo(m);
        }
    }

    @Test
    void appendsWaitForKafkaWhileItIsAwayAndMoreThanMaxPendingAreRefusedAtOnce() throws Exception {
        KafkaServer broker = privateBroker();
        KafkaTesting.RecordingHealth health = new KafkaTesting.RecordingHealth();
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        try (KafkaStream stream = KafkaStream.open("raw", settings(broker.bootstrap(), freshTopic(), 50), metrics, health)) {
            assertThat(stream.append(message(0)).get(30, TimeUnit.SECONDS)).isZero();
            broker.stop();
            await().atMost(Duration.ofSeconds(15)).until(() -> !health.isUp());
            assertThat(health.down.get()).startsWith("kafka at " + broker.bootstrap() + ": ");

            List<CompletableFuture<Long>> waiting = new ArrayList<>();
            for (long n = 1; n <= 50; n++) {
                CompletableFuture<Long> f = stream.append(message(n));
                assertThat(f).as("append %d is taken while fewer than maxPending wait", n).isNotDone();
                waiting.add(f);
            }
            CompletableFuture<Long> refused = stream.append(message(51));
            assertThat(refused).as("one more is refused at once, not waited for").isCompletedExceptionally();
            assertThat(refused.exceptionNow()).isInstanceOf(StreamFullException.class);
            assertThat(metrics.get("junction.stream.refused").counter().count()).isEqualTo(1);
            assertThat(metrics.get("junction.stream.pending").gauge().value()).isEqualTo(50);

            // A producer with a thread of its own waits for room instead.
            CompletableFuture<CompletableFuture<Long>> patient = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> patient.complete(stream.appendWaiting(message(52))));
            Thread.sleep(1_000);
            assertThat(waiting).as("no append completes while kafka is away").noneMatch(CompletableFuture::isDone);
            assertThat(patient).as("appendWaiting waits for room").isNotDone();

            broker.restart();
            for (int i = 0; i < waiting.size(); i++) {
                assertThat(waiting.get(i).get(60, TimeUnit.SECONDS)).as("what waited is acknowledged once kafka is back")
                        .isEqualTo(i + 1);
            }
            assertThat(patient.get(30, TimeUnit.SECONDS).get(30, TimeUnit.SECONDS)).isEqualTo(51);
            await().atMost(Duration.ofSeconds(15)).until(health::isUp);
            assertThat(readAll(stream)).extracting(e -> e.message().id())
                    .containsExactlyElementsOf(LongStream.concat(LongStream.rangeClosed(0, 50), LongStream.of(52))
                            .mapToObj(n -> "id-" + n).toList());
        }
    }

    @Test
    void aBrokerCrashUnderLoadLosesNothingAcknowledgedAndWritesNothingTwice() throws Exception {
        KafkaServer broker = privateBroker();
        KafkaTesting.RecordingHealth health = new KafkaTesting.RecordingHealth();
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        int maxPending = 2_000;
        try (KafkaStream stream = KafkaStream.open("raw", settings(broker.bootstrap(), freshTopic(), maxPending), metrics,
                health)) {
            Queue<Long> tapped = new ConcurrentLinkedQueue<>();
            Queue<Long> followed = new ConcurrentLinkedQueue<>();
            MessageStream.Tap tap = stream.tap(e -> tapped.add(e.offset()));
            StreamFollower follower = StreamFollower.atLeastOnce(stream, "crash", CommittedOffset.startAt(0), m -> true, 256,
                    batch -> batch.forEach(e -> followed.add(e.offset())));
            Map<String, CompletableFuture<Long>> accepted = new ConcurrentHashMap<>();
            LongAdder acknowledged = new LongAdder();
            LongAdder refusals = new LongAdder();
            AtomicBoolean running = new AtomicBoolean(true);
            Thread load = Thread.ofPlatform().name("load").start(() -> {
                for (long n = 0; running.get(); n++) {
                    Message m = message(n);
                    CompletableFuture<Long> f = stream.append(m);
                    if (f.isCompletedExceptionally() && f.exceptionNow() instanceof StreamFullException) {
                        refusals.increment();
                        pause(2);
                        continue;
                    }
                    f.thenRun(acknowledged::increment);
                    accepted.put(m.id(), f);
                    if (n % 10 == 0) {
                        pause(1);
                    }
                }
            });
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> acknowledged.sum() >= 2_000);
                broker.kill();
                await().atMost(Duration.ofSeconds(15)).until(() -> !health.isUp());
                assertThat(health.down.get()).startsWith("kafka at " + broker.bootstrap() + ": ");
                await("once maxPending wait, appends are refused at once").atMost(Duration.ofSeconds(15))
                        .until(() -> refusals.sum() > 0);
                assertThat(metrics.get("junction.stream.pending").gauge().value()).isEqualTo(maxPending);

                broker.restart();
                await().atMost(Duration.ofSeconds(30)).until(health::isUp);
                long atRestart = acknowledged.sum();
                await("the load goes on after the restart").atMost(Duration.ofSeconds(60))
                        .until(() -> acknowledged.sum() >= atRestart + maxPending + 2_000);
            } finally {
                running.set(false);
                load.join();
            }

            // Every append the stream took is acknowledged in the end: the producer retried through the crash.
            CompletableFuture.allOf(accepted.values().toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            Map<Long, String> idAt = new HashMap<>();
            accepted.forEach((id, f) -> assertThat(idAt.put(f.join(), id)).as("offset %d given twice", f.join()).isNull());
            List<StreamEntry> all = readAll(stream);
            assertThat(all).as("every acknowledged append is in the topic exactly once").hasSize(accepted.size());
            for (StreamEntry e : all) {
                assertThat(e.message().id()).as("the entry at %d", e.offset()).isEqualTo(idAt.get(e.offset()));
            }
            List<Long> everyOffset = LongStream.range(0, all.size()).boxed().toList();
            await().atMost(Duration.ofSeconds(30)).until(() -> tapped.size() >= all.size() && follower.position() == all.size());
            assertThat(new ArrayList<>(tapped)).as("the tap went on after the crash, in order, nothing twice")
                    .isEqualTo(everyOffset);
            assertThat(new ArrayList<>(followed)).as("the follower too").isEqualTo(everyOffset);
            assertThat(health.downs).isEqualTo(1);
            follower.close();
            tap.close();
        }
    }

    @Test
    void recordsOtherProducersWroteAreSkippedByReadsTapsAndFollowers() throws Exception {
        KafkaStream.Settings settings = fresh(100);
        SimpleMeterRegistry metrics = new SimpleMeterRegistry();
        try (KafkaStream stream = KafkaStream.open("raw", settings, metrics, EngineHealth.NONE);
             KafkaProducer<byte[], byte[]> foreign = producer(settings.bootstrap())) {
            Queue<StreamEntry> tapped = new ConcurrentLinkedQueue<>();
            Queue<StreamEntry> followed = new ConcurrentLinkedQueue<>();
            stream.tap(tapped::add);
            StreamFollower follower = StreamFollower.atLeastOnce(stream, "foreign", CommittedOffset.startAt(0), m -> true, 16,
                    batch -> followed.addAll(batch));
            List<byte[]> strangers = List.of("not json".getBytes(StandardCharsets.UTF_8),
                    "{\"hello\":\"world\"}".getBytes(StandardCharsets.UTF_8),
                    Json.messageToJson(message(99), -1).replace("{\"n\":99}", "\"{\\\"n\\\":99}\"").getBytes(StandardCharsets.UTF_8));
            String topic = settings.topic();
            foreign.send(new ProducerRecord<>(topic, 0, null, strangers.get(0))).get(30, TimeUnit.SECONDS);
            assertThat(stream.append(message(1)).get(30, TimeUnit.SECONDS)).isEqualTo(1);
            foreign.send(new ProducerRecord<>(topic, 0, null, strangers.get(1))).get(30, TimeUnit.SECONDS);
            foreign.send(new ProducerRecord<>(topic, 0, "k".getBytes(StandardCharsets.UTF_8), null)).get(30, TimeUnit.SECONDS);
            foreign.send(new ProducerRecord<>(topic, 0, null, strangers.get(2))).get(30, TimeUnit.SECONDS);
            assertThat(stream.append(message(5)).get(30, TimeUnit.SECONDS)).isEqualTo(5);
            // A Junction message written by another producer (another node, a replay tool) is a message like any other.
            foreign.send(new ProducerRecord<>(topic, 0, null, Json.messageToJson(message(6), -1)
                    .getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);

            List<StreamEntry> expected = List.of(new StreamEntry(1, message(1)), new StreamEntry(5, message(5)),
                    new StreamEntry(6, message(6)));
            await().atMost(Duration.ofSeconds(10)).until(() -> stream.endOffset() == 7);
            assertThat(stream.read(0, 100)).isEqualTo(expected);
            assertThat(stream.read(0, 1)).as("a read from a foreign record goes on to the next message")
                    .containsExactly(expected.getFirst());
            assertThat(stream.read(2, 1)).containsExactly(expected.get(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> tapped.size() >= 3 && follower.position() == 7);
            assertThat(new ArrayList<>(tapped)).isEqualTo(expected);
            assertThat(new ArrayList<>(followed)).isEqualTo(expected);
            assertThat(metrics.get("junction.stream.skipped").counter().count()).isEqualTo(4);
            follower.close();
        }
    }

    @Test
    void aTopicOfSeveralPartitionsIsRefused() throws Exception {
        String bootstrap = KafkaTestServer.bootstrap();
        assertThatThrownBy(() -> KafkaStream.open("raw", new KafkaStream.Settings(bootstrap, freshTopic(), 3, (short) 1, 10,
                Map.of()), new SimpleMeterRegistry(), EngineHealth.NONE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("partitions must be 1, got 3");

        String topic = freshTopic();
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        assertThatThrownBy(() -> KafkaStream.open("raw", settings(bootstrap, topic, 10), new SimpleMeterRegistry(),
                EngineHealth.NONE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("kafka topic " + topic)
                .hasMessageContaining("has 3 partitions");
    }

    @Test
    void aKafkaThatDoesNotAnswerStopsTheOpen() {
        String nowhere = "127.0.0.1:" + Tools.freePort();
        assertThatThrownBy(() -> KafkaStream.open("raw", settings(nowhere, freshTopic(), 10), new SimpleMeterRegistry(),
                EngineHealth.NONE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("kafka at " + nowhere + " does not answer: ");
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        return new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap, "enable.auto.commit", false,
                "key.deserializer", ByteArrayDeserializer.class.getName(),
                "value.deserializer", ByteArrayDeserializer.class.getName()));
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap,
                "key.serializer", ByteArraySerializer.class.getName(),
                "value.serializer", ByteArraySerializer.class.getName()));
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
