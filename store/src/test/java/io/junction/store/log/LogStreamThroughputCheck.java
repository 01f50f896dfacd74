package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.config.JunctionConfig;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A quick throughput check, not a test: producers on virtual threads each wait for every append (as QoS 1 acks do).
 * Arguments: fsync policy, producers, seconds, body bytes. The benchmark proper belongs in the bench module.
 */
public final class LogStreamThroughputCheck {

    private LogStreamThroughputCheck() {
    }

    public static void main(String[] args) throws Exception {
        JunctionConfig.Fsync fsync = JunctionConfig.Fsync.valueOf(args.length > 0 ? args[0] : "ALWAYS");
        int producers = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        int bodyBytes = args.length > 3 ? Integer.parseInt(args[3]) : 100;
        Path dir = Files.createTempDirectory("junction-log-check");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        String body = "{\"v\":\"" + "x".repeat(Math.max(0, bodyBytes - 8)) + "\"}";
        LongAdder done = new LongAdder();
        AtomicBoolean running = new AtomicBoolean(true);
        try (LogStream stream = LogStream.open(dir, "raw", new JunctionConfig.Data(dir, fsync, 20, 64L * 1024 * 1024), registry)) {
            Thread[] threads = new Thread[producers];
            for (int p = 0; p < producers; p++) {
                int producer = p;
                threads[p] = Thread.ofVirtual().start(() -> {
                    RoutingKey key = RoutingKey.of("bench.device" + producer + ".level");
                    String topic = "bench/" + producer + "/status";
                    for (long i = 0; running.get(); i++) {
                        Message m = new Message(java.util.UUID.randomUUID().toString(), System.currentTimeMillis(), topic, key,
                                "dev" + producer, Message.STATUS, body);
                        stream.append(m).join();
                        done.increment();
                    }
                });
            }
            Thread.sleep(2000); // warm-up
            long start = System.nanoTime();
            long before = done.sum();
            DistributionSummary batch = registry.get("junction.stream.batch.size").summary();
            long batchesBefore = batch.count();
            double totalBefore = batch.totalAmount();
            Thread.sleep(seconds * 1000L);
            long count = done.sum() - before;
            double elapsed = (System.nanoTime() - start) / 1e9;
            long batches = batch.count() - batchesBefore;
            running.set(false);
            for (Thread t : threads) {
                t.join();
            }
            System.out.printf("fsync=%s producers=%d body=%dB: %.0f appends/s, %d batches (avg %.1f msgs), %.1f MB written%n",
                    fsync, producers, bodyBytes, count / elapsed, batches, (batch.totalAmount() - totalBefore) / Math.max(1, batches),
                    stream.sizeBytes() / 1e6);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
