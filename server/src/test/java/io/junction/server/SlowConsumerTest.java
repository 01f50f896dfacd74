package io.junction.server;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5Client;

import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFollower;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The ingest seam end to end: consumers of the raw stream that take a second per message cost QoS 1 ingest nothing —
 * neither throughput nor PUBACK latency — and later catch up with every message from the log.
 */
class SlowConsumerTest {

    /** More than the log's ring of recent entries, so the slow consumers must read back from the log. */
    private static final int MESSAGES = 10_000;
    /** QoS 1 publishes in flight at once: a client publishing at full speed within a window. */
    private static final int WINDOW = 100;

    @TempDir
    Path dir;

    /** One measured publishing run: how long it took and how long each PUBACK took to come. */
    private record Run(int count, long nanos, long[] pubackNanos) {
        double perSecond() {
            return count * 1e9 / nanos;
        }

        long percentileMillis(double p) {
            long[] sorted = pubackNanos.clone();
            Arrays.sort(sorted);
            return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] / 1_000_000;
        }

        long maxMillis() {
            return Arrays.stream(pubackNanos).max().orElse(0) / 1_000_000;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "%.0f msgs/s, PUBACK p50 %d ms, p99 %d ms, max %d ms",
                    perSecond(), percentileMillis(0.5), percentileMillis(0.99), maxMillis());
        }
    }

    /** Publishes {@code count} QoS 1 messages as fast as the window allows and times every PUBACK. */
    private static Run publish(Mqtt5AsyncClient client, String run, int count) throws InterruptedException {
        Semaphore window = new Semaphore(WINDOW);
        CountDownLatch acked = new CountDownLatch(count);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        long[] puback = new long[count];
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            window.acquire();
            int n = i;
            long sent = System.nanoTime();
            client.publishWith().topic("flood/" + run + "/s" + (i % 50) + "/temp")
                    .payload(("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8)).qos(MqttQos.AT_LEAST_ONCE).send()
                    .whenComplete((result, error) -> {
                        puback[n] = System.nanoTime() - sent;
                        if (error != null) {
                            failed.compareAndSet(null, error);
                        }
                        window.release();
                        acked.countDown();
                    });
        }
        assertThat(acked.await(120, TimeUnit.SECONDS)).as("every PUBACK of run %s came", run).isTrue();
        long took = System.nanoTime() - start;
        assertThat(failed.get()).as("no publish of run %s failed", run).isNull();
        return new Run(count, took, puback);
    }

    private static void sleepOneSecondWhile(AtomicBoolean slow) {
        if (slow.get()) {
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    @Timeout(300)
    void consumersThatSleepOneSecondPerMessageLeaveIngestAsItWasAndCatchUpLater() throws Exception {
        try (Junction node = Junction.start(Clients.config(dir, "always", ""))) {
            MessageStream raw = node.raw();
            Mqtt5AsyncClient client = Mqtt5Client.builder().identifier("flood").serverHost("127.0.0.1")
                    .serverPort(node.mqttPort()).buildAsync();
            client.connect().get(10, TimeUnit.SECONDS);
            try {
                publish(client, "warm", MESSAGES); // class loading and JIT, not measured
                Run without = publish(client, "without", MESSAGES);

                AtomicBoolean slow = new AtomicBoolean(true);
                long from = raw.endOffset();
                List<Long> tapped = new CopyOnWriteArrayList<>();
                List<Long> followed = new CopyOnWriteArrayList<>();
                // A tap that breaks the rule (it blocks) and a follower whose handler is slow: both a second a message.
                try (MessageStream.Tap tap = raw.tap(e -> {
                         sleepOneSecondWhile(slow);
                         tapped.add(e.offset());
                     });
                     StreamFollower follower = StreamFollower.atLeastOnce(raw, "slow-consumer", CommittedOffset.startAt(from),
                             m -> true, 64, batch -> batch.forEach(e -> {
                                 sleepOneSecondWhile(slow);
                                 followed.add(e.offset());
                             }))) {
                    Run with = publish(client, "with", MESSAGES);
                    long end = raw.endOffset();
                    System.out.printf("ingest without slow consumers: %s%ningest with them: %s%n", without, with);

                    assertThat(end - from).as("every publish of the run is in the raw stream").isEqualTo(MESSAGES);
                    assertThat(tapped.size() + followed.size()).as("the slow consumers fell far behind").isLessThan(MESSAGES / 10);
                    assertThat(with.perSecond()).as("throughput with slow consumers (%s) against without (%s)", with, without)
                            .isGreaterThanOrEqualTo(0.5 * without.perSecond());
                    assertThat(with.maxMillis()).as("no PUBACK waited for a slow consumer (%s)", with).isLessThan(1_000);
                    assertThat(with.percentileMillis(0.99)).as("PUBACK latency with slow consumers (%s) against without (%s)",
                            with, without).isLessThanOrEqualTo(Math.max(300, 3 * without.percentileMillis(0.99)));

                    slow.set(false);
                    await().atMost(Duration.ofSeconds(60))
                            .until(() -> followed.size() >= MESSAGES && tapped.size() >= MESSAGES);
                    List<Long> all = LongStream.range(from, end).boxed().toList();
                    assertThat(followed).as("the follower caught up with every message, in order, once").isEqualTo(all);
                    assertThat(tapped).as("the tap caught up with every message, in order, once").isEqualTo(all);
                    assertThat(follower.dropped()).isZero();
                }
            } finally {
                client.disconnect().get(10, TimeUnit.SECONDS);
            }
        }
    }
}
