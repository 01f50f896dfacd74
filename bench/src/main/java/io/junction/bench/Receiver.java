package io.junction.bench;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What a subscriber (WebSocket or MQTT) saw of one bench pass: messages of the current run, those that arrived in
 * the measurement window, and the publish-to-delivery latency of the messages published inside the window.
 */
final class Receiver {

    private volatile int run = -1;
    private volatile long windowStart = Long.MAX_VALUE;
    private volatile long windowEnd = Long.MAX_VALUE;
    final LatencyHistogram latency = new LatencyHistogram();
    final AtomicLong received = new AtomicLong();
    final AtomicLong receivedInWindow = new AtomicLong();
    final AtomicLong otherRuns = new AtomicLong();
    private volatile long lastArrival = System.nanoTime();

    /** Starts counting for {@code run}; the window stays closed until {@link #openWindow}. */
    void begin(int run) {
        this.windowStart = Long.MAX_VALUE;
        this.windowEnd = Long.MAX_VALUE;
        latency.reset();
        received.set(0);
        receivedInWindow.set(0);
        otherRuns.set(0);
        this.run = run;
    }

    void openWindow(long nanos) {
        windowStart = nanos;
    }

    void closeWindow(long nanos) {
        windowEnd = nanos;
    }

    long lastArrival() {
        return lastArrival;
    }

    /** A message arrived (called by one thread per subscriber). */
    void onSample(Payload p) {
        long now = System.nanoTime();
        lastArrival = now;
        if (p.run != run) {
            otherRuns.incrementAndGet();
            return;
        }
        received.incrementAndGet();
        long ws = windowStart;
        long we = windowEnd;
        if (now >= ws && now < we) {
            receivedInWindow.incrementAndGet();
        }
        if (p.t >= ws && p.t < we) {
            latency.record((now - p.t) / 1000);
        }
    }
}
