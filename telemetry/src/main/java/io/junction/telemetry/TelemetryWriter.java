package io.junction.telemetry;

import io.junction.core.Message;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.telemetry.Checkpoint;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.TelemetryStore;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The telemetry writer: turns the stream's messages into points and stores them in batches, keeping its own offset in
 * the stream. The offset is stored in the same transaction as the points, so after a crash it resumes exactly where
 * the last stored batch ended: nothing lost, nothing twice.
 *
 * <p>A tap on the stream hands matching entries to a bounded queue without ever blocking the stream's writer thread.
 * When the queue is full the tap stops queueing and raises a flag; the writer then reads what it missed from the
 * stream itself (which is durable), so falling behind costs time, never points. On start it catches up the same way.
 * The loop runs on one virtual thread, which owns all of the writer's state but the tap's two volatile fields.
 */
final class TelemetryWriter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TelemetryWriter.class);
    /** Without points to write, the offset is still stored when it moved this far, or after this long. */
    private static final long IDLE_CHECKPOINT_OFFSETS = 10_000;
    private static final long IDLE_CHECKPOINT_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** Which messages are telemetry. */
    record Selection(List<RoutingPattern> keys, Set<String> kinds, boolean deviceTelemetry) {
        boolean wanted(Message m) {
            if (deviceTelemetry && MessagePoints.isDeviceTelemetry(m.topic())) {
                return true;
            }
            if (!kinds.contains(m.kind())) {
                return false;
            }
            for (RoutingPattern p : keys) {
                if (p.matches(m.key())) {
                    return true;
                }
            }
            return false;
        }
    }

    private final MessageStream stream;
    private final TelemetryStore store;
    private final PointWriter out;
    private final MessagePoints converter;
    private final Selection selection;
    private final int batch;
    private final ArrayBlockingQueue<StreamEntry> queue;
    private final String consumer;

    /** Set by the tap when the queue was full: what it could not queue must be read from the stream. */
    private volatile boolean overflow;
    /** One past the last offset the tap saw. */
    private volatile long seen = -1;
    private volatile boolean stopping;
    /** The first offset not yet covered; written by the loop only. */
    private volatile long next;
    private long checkpointed;
    private long checkpointedAt;
    private MessageStream.Tap tap;
    private Thread thread;

    TelemetryWriter(MessageStream stream, TelemetryStore store, PointWriter out, MessagePoints converter,
                    Selection selection, int batch, int queueCapacity, MeterRegistry metrics) {
        this.stream = stream;
        this.store = store;
        this.out = out;
        this.converter = converter;
        this.selection = selection;
        this.batch = batch;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.consumer = "writer:" + stream.name();
        Gauge.builder("junction.telemetry.writer.lag", this, w -> Math.max(0, w.stream.endOffset() - w.next))
                .description("stream entries the telemetry writer has not covered yet").register(metrics);
    }

    /** Resumes from the stored offset (or the start of the stream) and follows the stream from there. */
    void start() {
        long stored = store.checkpoint(consumer).orElse(stream.startOffset());
        long from = stored;
        if (from < stream.startOffset()) {
            log.warn("telemetry writer: offset {} is no longer in stream '{}' (it starts at {}); resuming there",
                    from, stream.name(), stream.startOffset());
            from = stream.startOffset();
        } else if (from > stream.endOffset()) {
            log.warn("telemetry writer: offset {} is past the end of stream '{}' ({}), which lost its tail; resuming at the end",
                    from, stream.name(), stream.endOffset());
            from = stream.endOffset();
        }
        next = from;
        checkpointed = stored;
        checkpointedAt = System.nanoTime();
        // The tap first, so that nothing appended during the catch-up is missed; what it queues twice is skipped by offset.
        tap = stream.tap(this::onEntry);
        thread = Thread.ofVirtual().name("telemetry-writer").start(this::loop);
        log.info("telemetry writer started stream={} from={} end={}", stream.name(), from, stream.endOffset());
    }

    /** On the stream's writer thread: filter, queue, never block. */
    private void onEntry(StreamEntry e) {
        if (!overflow && selection.wanted(e.message()) && !queue.offer(e)) {
            overflow = true;
        }
        seen = e.offset() + 1;
    }

    private void loop() {
        List<StreamEntry> drained = new ArrayList<>(batch);
        catchUp();
        while (!stopping) {
            try {
                if (overflow) {
                    overflow = false;
                    queue.clear();
                    log.debug("telemetry writer fell behind the stream; reading from offset {}", next);
                    catchUp();
                    continue;
                }
                long seenBefore = seen;
                StreamEntry first = queue.poll(200, TimeUnit.MILLISECONDS);
                drained.clear();
                if (first != null) {
                    drained.add(first);
                    queue.drainTo(drained, batch - 1);
                }
                long upTo = next;
                if (!drained.isEmpty()) {
                    upTo = Math.max(upTo, drained.getLast().offset() + 1);
                }
                // Every wanted entry below seenBefore was queued before it was read; with the queue empty and no
                // overflow they are all in hand, so the offset may move past the unwanted ones in between.
                if (queue.isEmpty() && !overflow && seenBefore > upTo) {
                    upTo = seenBefore;
                }
                drained.removeIf(e -> e.offset() < next);
                if (!drained.isEmpty() || upTo - checkpointed >= IDLE_CHECKPOINT_OFFSETS
                        || (upTo > checkpointed && System.nanoTime() - checkpointedAt > IDLE_CHECKPOINT_NANOS)) {
                    store(drained, upTo);
                } else {
                    next = upTo;
                }
            } catch (InterruptedException e) {
                if (stopping) {
                    return;
                }
            } catch (RuntimeException e) {
                log.warn("telemetry writer: {}", e.toString(), e);
                // What was drained may not be stored: read it again from the stream, from the offset not yet covered.
                overflow = true;
                pause();
            }
        }
    }

    /** Reads from {@link #next} to the end of the stream, a page at a time. */
    private void catchUp() {
        while (!stopping) {
            List<StreamEntry> page;
            try {
                page = stream.read(next, batch);
            } catch (RuntimeException e) {
                log.warn("telemetry writer: reading stream '{}' at offset {} failed: {}", stream.name(), next, e.toString());
                pause();
                continue;
            }
            if (page.isEmpty()) {
                return;
            }
            List<StreamEntry> wanted = new ArrayList<>(page.size());
            for (StreamEntry e : page) {
                if (selection.wanted(e.message())) {
                    wanted.add(e);
                }
            }
            store(wanted, page.getLast().offset() + 1);
        }
    }

    /** Stores the points of {@code entries} with the offset {@code upTo}, retrying until it works or the writer stops. */
    private void store(List<StreamEntry> entries, long upTo) {
        List<Point> points = new ArrayList<>(entries.size() * 4);
        long now = out.now();
        long old = 0;
        for (StreamEntry e : entries) {
            MessagePoints.Result r = converter.convert(e.message(), e.offset());
            if (r.undecodable()) {
                out.droppedUndecodable();
            }
            if (r.skipped() > 0) {
                out.droppedUnsupported(r.skipped());
            }
            for (Point p : r.points()) {
                if (out.withinRetention(p, now)) {
                    points.add(p);
                } else {
                    old++;
                }
            }
        }
        if (old > 0) {
            out.droppedByRetention(old);
        }
        while (true) {
            try {
                out.write(points, Optional.of(new Checkpoint(consumer, upTo)), false);
                next = upTo;
                checkpointed = upTo;
                checkpointedAt = System.nanoTime();
                return;
            } catch (RuntimeException e) {
                if (stopping) {
                    log.warn("telemetry writer stopping with a failed batch (offsets {} to {} are written again on the next start): {}",
                            next, upTo, e.toString());
                    return;
                }
                log.warn("telemetry writer: storing {} points failed, retrying in 1 s: {}", points.size(), e.toString());
                pause();
            }
        }
    }

    private void pause() {
        try {
            Thread.sleep(1_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops following the stream; a batch being stored is finished first. What is not stored is read again on the next start. */
    @Override
    public void close() {
        stopping = true;
        if (tap != null) {
            tap.close();
        }
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                thread.interrupt();
            }
        }
        log.info("telemetry writer stopped stream={} next={}", stream.name(), next);
    }
}
