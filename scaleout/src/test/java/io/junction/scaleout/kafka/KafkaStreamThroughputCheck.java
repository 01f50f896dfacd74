package io.junction.scaleout.kafka;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.KafkaServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A quick throughput and latency check, not a test: appends to a KafkaStream and measures append→acknowledgement.
 * Arguments: mode ({@code closed <producers>}: producers on virtual threads each waiting for every append, as QoS 1
 * devices do; {@code rate <per second>}: paced appends from one thread; {@code flood}: one thread appending as fast as
 * maxPending lets it), the mode's number, seconds, linger.ms, maxPending. Starts a broker of its own unless
 * {@code -Dbootstrap=host:port} is given. The benchmark proper belongs in the bench module.
 */
public final class KafkaStreamThroughputCheck {

    private static final int MAX_SAMPLES = 4_000_000;

    private KafkaStreamThroughputCheck() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "closed";
        int number = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        String linger = args.length > 3 ? args[3] : "1";
        int maxPending = args.length > 4 ? Integer.parseInt(args[4]) : 10_000;
        String bootstrap = System.getProperty("bootstrap");
        Path dir = null;
        KafkaServer broker = null;
        if (bootstrap == null) {
            dir = Files.createTempDirectory("junction-kafka-check");
            broker = KafkaServer.start(dir, freePort(), freePort());
            bootstrap = broker.bootstrap();
        }
        String body = "{\"v\":\"" + "x".repeat(92) + "\"}";
        long[] latencies = new long[MAX_SAMPLES];
        AtomicInteger samples = new AtomicInteger();
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicBoolean running = new AtomicBoolean(true);
        KafkaStream.Settings settings = new KafkaStream.Settings(bootstrap, "check-" + UUID.randomUUID(), 1, (short) 1,
                maxPending, Map.of("linger.ms", linger));
        try (KafkaStream stream = KafkaStream.open("raw", settings, new SimpleMeterRegistry(), EngineHealth.NONE)) {
            Runnable[] work = switch (mode) {
                case "closed" -> {
                    Runnable[] w = new Runnable[number];
                    for (int p = 0; p < number; p++) {
                        int producer = p;
                        w[p] = () -> {
                            while (running.get()) {
                                long t = System.nanoTime();
                                stream.append(message(producer, body)).join();
                                record(latencies, samples, measuring, System.nanoTime() - t);
                            }
                        };
                    }
                    yield w;
                }
                case "rate" -> new Runnable[]{() -> {
                    long intervalNanos = 1_000_000_000L / number;
                    long next = System.nanoTime();
                    for (long i = 0; running.get(); i++) {
                        while (System.nanoTime() < next) {
                            Thread.onSpinWait();
                        }
                        next += intervalNanos;
                        long t = System.nanoTime();
                        stream.append(message((int) (i % 1000), body))
                                .thenRun(() -> record(latencies, samples, measuring, System.nanoTime() - t));
                    }
                }};
                case "flood" -> new Runnable[]{() -> {
                    for (long i = 0; running.get(); i++) {
                        CompletableFuture<Long> f = stream.appendWaiting(message((int) (i % 1000), body));
                        long t = System.nanoTime();
                        f.thenRun(() -> record(latencies, samples, measuring, System.nanoTime() - t));
                    }
                }};
                default -> throw new IllegalArgumentException("mode: closed, rate or flood");
            };
            Thread[] threads = new Thread[work.length];
            for (int i = 0; i < work.length; i++) {
                threads[i] = Thread.ofVirtual().start(work[i]);
            }
            Thread.sleep(3_000); // warm-up
            measuring.set(true);
            long start = System.nanoTime();
            long endBefore = stream.endOffset();
            Thread.sleep(seconds * 1000L);
            long acked = stream.endOffset() - endBefore;
            double elapsed = (System.nanoTime() - start) / 1e9;
            measuring.set(false);
            running.set(false);
            for (Thread t : threads) {
                t.join();
            }
            int n = Math.min(samples.get(), MAX_SAMPLES);
            long[] sorted = Arrays.copyOf(latencies, n);
            Arrays.sort(sorted);
            System.out.printf("mode=%s %d linger.ms=%s maxPending=%d body=100B: %.0f appends/s acknowledged; append->ack "
                            + "p50=%.2f ms p99=%.2f ms max=%.2f ms (%d samples)%n", mode, number, linger, maxPending,
                    acked / elapsed, pct(sorted, 0.50), pct(sorted, 0.99), pct(sorted, 1.0), n);
        } finally {
            if (broker != null) {
                broker.close();
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    private static Message message(int device, String body) {
        return new Message(UUID.randomUUID().toString(), System.currentTimeMillis(), "bench/" + device + "/status",
                RoutingKey.of("bench.device" + device + ".level"), "dev" + device, Message.STATUS, body);
    }

    private static void record(long[] latencies, AtomicInteger samples, AtomicBoolean measuring, long nanos) {
        if (measuring.get()) {
            int i = samples.getAndIncrement();
            if (i < latencies.length) {
                latencies[i] = nanos;
            }
        }
    }

    private static double pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e6;
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
