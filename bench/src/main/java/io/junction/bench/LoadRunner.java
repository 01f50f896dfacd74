package io.junction.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Runs one bench pass: N device connections publish to {@code bench/<i>/value} for a warm-up and a measured window,
 * while a subscriber (given by the caller, feeding a {@link Receiver}) counts what arrives.
 */
final class LoadRunner {

    private static final AtomicInteger RUNS = new AtomicInteger(1 + (int) (System.nanoTime() & 0xffff) * 16);

    /** What to run. {@code rate} is msgs/s over all devices; 0 = as fast as possible. */
    record Spec(String target, int qos, int devices, double rate, int warmupSeconds, int seconds, int payloadBytes,
                int window) {
    }

    /** What one pass measured; latencies in microseconds. */
    record Result(Spec spec, double seconds, double sentPerSec, double ackedPerSec, double deliveredPerSec,
                  long latencyCount, long p50, long p99, long p999, long max, double mean,
                  long ackP50, long ackP99, long sent, long acked, long received, long dropsReported, long missing,
                  long skipped, String error) {

        /** Acked/s for QoS 1, sent/s for QoS 0: what the table calls "msgs/s acked". */
        double throughput() {
            return spec.qos() == 1 ? ackedPerSec : sentPerSec;
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("target", spec.target());
            m.put("qos", spec.qos());
            m.put("devices", spec.devices());
            m.put("rateTarget", spec.rate());
            m.put("payloadBytes", spec.payloadBytes());
            m.put("seconds", seconds);
            m.put("sentPerSec", round(sentPerSec));
            m.put("ackedPerSec", round(ackedPerSec));
            m.put("deliveredPerSec", round(deliveredPerSec));
            m.put("latencySamples", latencyCount);
            m.put("p50Ms", p50 / 1000.0);
            m.put("p99Ms", p99 / 1000.0);
            m.put("p999Ms", p999 / 1000.0);
            m.put("maxMs", max / 1000.0);
            m.put("meanMs", Math.round(mean) / 1000.0);
            m.put("ackP50Ms", ackP50 / 1000.0);
            m.put("ackP99Ms", ackP99 / 1000.0);
            m.put("sent", sent);
            m.put("acked", acked);
            m.put("received", received);
            m.put("dropsReported", dropsReported);
            m.put("missing", missing);
            m.put("skipped", skipped);
            m.put("error", error);
            return m;
        }

        private static double round(double v) {
            return Math.round(v * 10) / 10.0;
        }
    }

    private final MqttBenchClient client;
    private final String host;
    private final int port;

    LoadRunner(MqttBenchClient client, String host, int port) {
        this.client = client;
        this.host = host;
        this.port = port;
    }

    static int nextRun() {
        return RUNS.incrementAndGet();
    }

    /** Connects {@code devices} publishers; their client ids are {@code bench-<run>-<i>}. */
    List<MqttConnection> connect(int run, int devices) {
        List<CompletableFuture<MqttConnection>> fs = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            fs.add(client.connect(host, port, "bench-" + run + "-" + i, null));
        }
        List<MqttConnection> out = new ArrayList<>();
        RuntimeException failure = null;
        for (CompletableFuture<MqttConnection> f : fs) {
            try {
                out.add(f.join());
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (failure != null) {
            out.forEach(MqttConnection::close);
            Throwable c = failure.getCause() != null ? failure.getCause() : failure;
            throw new IllegalStateException("could not connect the devices to " + host + ":" + port + ": " + c, c);
        }
        return out;
    }

    /**
     * Runs a pass. {@code receiver} must be fed by a subscriber the caller opened; {@code dropsReported} reads the
     * drop count the server reported so far (0 when the target does not report drops).
     */
    Result run(Spec spec, Receiver receiver, LongSupplier dropsReported) {
        return run(spec, receiver, dropsReported, () -> { }, () -> { });
    }

    /** As {@link #run(Spec, Receiver, LongSupplier)}, calling {@code atStart}/{@code atEnd} at the measured window's edges. */
    Result run(Spec spec, Receiver receiver, LongSupplier dropsReported, Runnable atStart, Runnable atEnd) {
        int run = nextRun();
        receiver.begin(run);
        long drops0 = dropsReported.getAsLong();
        LatencyHistogram ackLatency = new LatencyHistogram();
        java.util.concurrent.atomic.AtomicLongArray window = new java.util.concurrent.atomic.AtomicLongArray(
                new long[]{Long.MAX_VALUE, Long.MAX_VALUE});
        MqttConnection.AckListener acks = (device, seq, sentAt, ackAt) -> {
            if (sentAt >= window.get(0) && sentAt < window.get(1)) {
                ackLatency.record((ackAt - sentAt) / 1000);
            }
        };
        List<MqttConnection> pubs = connect(run, spec.devices());
        try {
            for (int i = 0; i < pubs.size(); i++) {
                double perDevice = spec.rate() > 0 ? spec.rate() / spec.devices() : 0;
                pubs.get(i).start(new MqttConnection.Plan("bench/" + i + "/value", spec.qos(), spec.payloadBytes(),
                        run, i, perDevice, spec.window(), acks));
            }
            Net.sleep(spec.warmupSeconds() * 1000L);
            Mark start = Mark.at(0, window, receiver::openWindow, receiver, pubs);
            atStart.run();
            Net.sleep(spec.seconds() * 1000L);
            Mark end = Mark.at(1, window, receiver::closeWindow, receiver, pubs);
            atEnd.run();
            double secs = (end.nanos() - start.nanos()) / 1e9;

            pubs.forEach(MqttConnection::stop);
            for (MqttConnection c : pubs) {
                c.awaitAcks(Duration.ofSeconds(10));
            }
            long sent = sum(pubs, MqttConnection::sent);
            long acked = sum(pubs, MqttConnection::acked);
            long expected = spec.qos() == 1 ? acked : sent;
            awaitDelivery(receiver, expected, Duration.ofSeconds(15));
            long received = receiver.received.get();
            String error = null;
            for (MqttConnection c : pubs) {
                if (c.error() != null || !c.isActive()) {
                    error = c.clientId() + ": " + (c.error() != null ? c.error() : "connection closed by the server");
                    break;
                }
            }
            LatencyHistogram h = receiver.latency;
            return new Result(spec, secs, (end.sent() - start.sent()) / secs, (end.acked() - start.acked()) / secs,
                    (end.received() - start.received()) / secs,
                    h.count(), h.percentile(50), h.percentile(99), h.percentile(99.9), h.max(), h.mean(),
                    ackLatency.percentile(50), ackLatency.percentile(99),
                    sent, acked, received, dropsReported.getAsLong() - drops0, Math.max(0, expected - received),
                    sum(pubs, MqttConnection::skipped), error);
        } finally {
            pubs.forEach(MqttConnection::close);
        }
    }

    /** The counters at one edge of the measured window: the pass's rates are the differences of two marks. */
    private record Mark(long nanos, long sent, long acked, long received) {

        /** Sets edge {@code which} (0 start, 1 end) of {@code window} and of the receiver's window now, and reads the counters. */
        static Mark at(int which, java.util.concurrent.atomic.AtomicLongArray window, java.util.function.LongConsumer receiverEdge,
                Receiver receiver, List<MqttConnection> pubs) {
            long now = System.nanoTime();
            window.set(which, now);
            receiverEdge.accept(now);
            return new Mark(now, sum(pubs, MqttConnection::sent), sum(pubs, MqttConnection::acked), receiver.receivedInWindow.get());
        }
    }

    /** Waits until {@code expected} messages arrived, or nothing arrived for a second, or the timeout. */
    static void awaitDelivery(Receiver receiver, long expected, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && receiver.received.get() < expected) {
            if (System.nanoTime() - receiver.lastArrival() > 1_000_000_000L) {
                return;
            }
            Net.sleep(20);
        }
    }

    static long sum(List<MqttConnection> cs, java.util.function.ToLongFunction<MqttConnection> f) {
        long s = 0;
        for (MqttConnection c : cs) {
            s += f.applyAsLong(c);
        }
        return s;
    }
}
