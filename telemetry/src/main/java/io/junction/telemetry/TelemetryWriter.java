package io.junction.telemetry;

import io.junction.core.Message;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
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
import java.util.concurrent.TimeUnit;

/**
 * The telemetry writer: an at-least-once {@link StreamFollower} on the stream whose batches become points, stored
 * together with the offset after them in one transaction. The store's checkpoint is the follower's committed offset,
 * so after a crash the writer resumes exactly where the last stored batch ended, and entries of a batch given again
 * that are below the checkpoint are skipped: nothing lost, nothing twice.
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
    private final int capacity;
    private final String consumer;

    /** The first offset the store's checkpoint covers; the follower's thread only (after start). */
    private long stored;
    private long storedAtNanos;
    private volatile StreamFollower follower;

    TelemetryWriter(MessageStream stream, TelemetryStore store, PointWriter out, MessagePoints converter,
                    Selection selection, int batch, int capacity, MeterRegistry metrics) {
        this.stream = stream;
        this.store = store;
        this.out = out;
        this.converter = converter;
        this.selection = selection;
        this.batch = batch;
        this.capacity = capacity;
        this.consumer = "writer:" + stream.name();
        Gauge.builder("junction.telemetry.writer.lag", this, TelemetryWriter::lag)
                .description("stream entries the telemetry writer has not covered yet").register(metrics);
    }

    private long lag() {
        StreamFollower f = follower;
        return f == null ? 0 : f.lag();
    }

    /** Resumes from the stored offset (or the start of the stream) and follows the stream from there. */
    void start() {
        long from = store.checkpoint(consumer).orElse(stream.startOffset());
        if (from < stream.startOffset()) {
            log.warn("telemetry writer: offset {} is no longer in stream '{}' (it starts at {}); resuming there",
                    from, stream.name(), stream.startOffset());
            from = stream.startOffset();
        } else if (from > stream.endOffset()) {
            log.warn("telemetry writer: offset {} is past the end of stream '{}' ({}), which lost its tail; resuming at the end",
                    from, stream.name(), stream.endOffset());
            from = stream.endOffset();
        }
        stored = from;
        storedAtNanos = System.nanoTime();
        long end = stream.endOffset();
        follower = StreamFollower.atLeastOnce(stream, "telemetry", new StoreCheckpoint(from),
                selection::wanted, capacity, this::handle);
        log.info("telemetry writer started stream={} from={} end={}", stream.name(), from, end);
    }

    /** On the follower's thread: stores a batch in transactions of at most {@link #batch} messages. */
    private void handle(List<StreamEntry> entries) {
        int first = 0;
        // A batch given again after a failure: what the store's checkpoint covers is stored already.
        while (first < entries.size() && entries.get(first).offset() < stored) {
            first++;
        }
        for (int i = first; i < entries.size(); i += batch) {
            store(entries.subList(i, Math.min(entries.size(), i + batch)));
        }
    }

    /** Stores the points of {@code entries} with the offset after the last of them, in one transaction. */
    private void store(List<StreamEntry> entries) {
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
        long upTo = entries.getLast().offset() + 1;
        out.write(points, Optional.of(new Checkpoint(consumer, upTo)), false);
        stored = upTo;
        storedAtNanos = System.nanoTime();
    }

    /**
     * The follower's committed offset is the store's checkpoint, which every batch's transaction already moves. A
     * commit only stores how far the follower got past messages that are not telemetry, once that is far or long
     * enough to matter on the next start (an empty write: a transaction of its own).
     */
    private final class StoreCheckpoint implements CommittedOffset {
        private final long from;

        StoreCheckpoint(long from) {
            this.from = from;
        }

        @Override
        public long load() {
            return from;
        }

        @Override
        public void commit(long next) {
            if (next > stored && (next - stored >= IDLE_CHECKPOINT_OFFSETS || System.nanoTime() - storedAtNanos > IDLE_CHECKPOINT_NANOS)) {
                out.write(List.of(), Optional.of(new Checkpoint(consumer, next)), false);
                stored = next;
                storedAtNanos = System.nanoTime();
            }
        }
    }

    /** Stops following the stream; a batch being stored is finished first. What is not stored is read again on the next start. */
    @Override
    public void close() {
        StreamFollower f = follower;
        if (f != null) {
            f.close();
            log.info("telemetry writer stopped stream={} next={}", stream.name(), f.position());
        }
    }
}
