package io.junction.core.stream;

import io.junction.core.Message;
import io.junction.core.actor.LatestQueue;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;

/**
 * The one way to follow a stream: it owns the tap, a bounded queue, what happens when the consumer falls behind,
 * catching up from the log, committing offsets and skipping what was already seen. It uses only the
 * {@link MessageStream} port, so it works the same over every adapter (the embedded log, Kafka).
 *
 * <p>Its guarantee is its type:
 * <ul>
 *   <li>{@link AtLeastOnce} — every message the filter accepts is handed to the handler, in offset order, at least
 *       once, from the {@link CommittedOffset} on; none is skipped however slow the handler is. When its queue is
 *       full the follower stops taking live entries and reads them back from the log instead, so a slow handler
 *       costs the stream's writer nothing. A handler that throws gets the same batch again after a back-off (a
 *       handler decides for itself what to do with a message it cannot use). Progress is committed after handled
 *       batches, at most every commit interval, and on close: after a crash the handler may see the batches since
 *       the last commit again.</li>
 *   <li>{@link LatestOnly} — for live views: starts at the end of the stream, and when the handler falls behind the
 *       oldest waiting entries are dropped and counted ({@link #dropped()}).</li>
 * </ul>
 * Each follower runs its handler on a virtual thread of its own, one batch at a time.
 */
public abstract sealed class StreamFollower implements AutoCloseable permits StreamFollower.AtLeastOnce, StreamFollower.LatestOnly {

    private static final Logger log = LoggerFactory.getLogger(StreamFollower.class);
    static final int MAX_BATCH = 512;

    /** Handles a batch of entries, in offset order, on the follower's thread. */
    @FunctionalInterface
    public interface Handler {
        void handle(List<StreamEntry> batch) throws Exception;
    }

    final MessageStream stream;
    final String name;
    final Predicate<Message> filter;
    final Handler handler;
    final LongAdder handled = new LongAdder();
    final LongAdder failures = new LongAdder();
    private final Thread thread;
    private MessageStream.Tap tap;
    volatile boolean closing;

    private StreamFollower(MessageStream stream, String name, Predicate<Message> filter, Handler handler) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.name = Objects.requireNonNull(name, "name");
        this.filter = Objects.requireNonNull(filter, "filter");
        this.handler = Objects.requireNonNull(handler, "handler");
        this.thread = Thread.ofVirtual().name("follow-" + stream.name() + "-" + name).unstarted(this::run);
    }

    /**
     * Follows {@code stream} from {@code from} on, handing every message {@code filter} accepts to {@code handler}
     * at least once and in order; at most {@code capacity} live entries wait in memory.
     */
    public static AtLeastOnce atLeastOnce(MessageStream stream, String name, CommittedOffset from, Predicate<Message> filter,
                                          int capacity, Handler handler) {
        AtLeastOnce f = new AtLeastOnce(stream, name, from, filter, capacity, handler, Duration.ofSeconds(1));
        f.begin();
        return f;
    }

    /**
     * Follows {@code stream} from its end, handing what {@code filter} accepts to {@code handler}; when more than
     * {@code capacity} entries wait, the oldest are dropped and counted.
     */
    public static LatestOnly latestOnly(MessageStream stream, String name, Predicate<Message> filter, int capacity, Handler handler) {
        LatestOnly f = new LatestOnly(stream, name, filter, capacity, handler);
        f.begin();
        return f;
    }

    void begin() {
        tap = stream.tap(this::onEntry);
        thread.start();
    }

    /** Called by the stream's dispatcher for every durable entry, in offset order: must never block. */
    abstract void onEntry(StreamEntry entry);

    abstract void run();

    /** The follower's name, as given (for logs, metrics and the committed offset). */
    public String name() {
        return name;
    }

    /** The next offset the follower will look at. */
    public abstract long position();

    /** How many entries of the stream it has not looked at yet. */
    public long lag() {
        return Math.max(0, stream.endOffset() - position());
    }

    /** Entries handed to the handler so far (a re-delivered batch counts again). */
    public long handled() {
        return handled.sum();
    }

    /** Batches the handler threw on. */
    public long failures() {
        return failures.sum();
    }

    /** Entries dropped because the handler fell behind: always 0 for {@link AtLeastOnce}. */
    public abstract long dropped();

    /**
     * Stops following: no new batch starts, the batch in hand finishes (for at most five seconds), and an
     * at-least-once follower commits where it got to.
     */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        if (tap != null) {
            tap.close();
        }
        wake();
        if (Thread.currentThread() != thread) {
            try {
                if (!thread.join(Duration.ofSeconds(5))) {
                    log.warn("follower={} stream={} still busy after 5 s; interrupting it", name, stream.name());
                    thread.interrupt();
                    thread.join(Duration.ofSeconds(1));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    abstract void wake();

    /** At least once, in order, from a committed offset; slow handlers catch up from the log. */
    public static final class AtLeastOnce extends StreamFollower {

        private static final StreamEntry WAKE = new StreamEntry(-1, null);

        private final CommittedOffset committed;
        private final ArrayBlockingQueue<StreamEntry> queue;
        private final LongAdder fellBehind = new LongAdder();
        private final long commitIntervalNanos;
        /** Set by the tap when it could not queue an entry (it then queues nothing until the loop has caught up). */
        private volatile boolean behind = true;
        /** One past the last entry the tap looked at while not behind (queued or filtered out). */
        private volatile long tapped;
        /** The next offset to hand over; the loop's, read by others. */
        private volatile long next;
        private long committedNext;
        private long lastCommitNanos = System.nanoTime();

        private AtLeastOnce(MessageStream stream, String name, CommittedOffset from, Predicate<Message> filter, int capacity,
                            Handler handler, Duration commitInterval) {
            super(stream, name, filter, handler);
            if (capacity < 1) {
                throw new IllegalArgumentException("follower " + name + ": capacity must be at least 1");
            }
            this.committed = Objects.requireNonNull(from, "from");
            this.queue = new ArrayBlockingQueue<>(capacity + 1);
            this.commitIntervalNanos = commitInterval.toNanos();
            long start = Math.max(from.load(), 0);
            this.next = start;
            this.committedNext = start;
        }

        @Override
        void onEntry(StreamEntry entry) {
            if (behind) {
                return;
            }
            if (filter.test(entry.message()) && !queue.offer(entry)) {
                behind = true;
                fellBehind.increment();
                return;
            }
            tapped = entry.offset() + 1;
        }

        @Override
        void wake() {
            queue.offer(WAKE);
        }

        @Override
        public long position() {
            return next;
        }

        @Override
        public long dropped() {
            return 0;
        }

        /** How often the handler fell so far behind that live entries were read back from the log instead. */
        public long fellBehind() {
            return fellBehind.sum();
        }

        @Override
        void run() {
            List<StreamEntry> batch = new ArrayList<>(MAX_BATCH);
            while (!closing) {
                batch.clear();
                long upTo;
                try {
                    upTo = behind ? readBack(batch) : takeLive(batch);
                } catch (InterruptedException e) {
                    if (closing) {
                        break;
                    }
                    continue;
                } catch (RuntimeException e) {
                    log.warn("follower={} stream={} cannot read at offset={}: {}", name, stream.name(), next, e.toString());
                    // Read the log again: going live would take the next live entry and skip what lies between.
                    behind = true;
                    pause(1_000);
                    continue;
                }
                if (!batch.isEmpty() && !deliver(batch)) {
                    break;
                }
                if (upTo > next) {
                    next = upTo;
                }
                maybeCommit(batch.isEmpty());
            }
            commitNow();
        }

        /** Reads the next chunk from the log; stays behind while there is more. Returns the offset after the chunk. */
        private long readBack(List<StreamEntry> batch) {
            behind = false;
            List<StreamEntry> chunk = stream.read(next, MAX_BATCH);
            if (chunk.isEmpty()) {
                return next;
            }
            for (StreamEntry e : chunk) {
                if (filter.test(e.message())) {
                    batch.add(e);
                }
            }
            long after = chunk.get(chunk.size() - 1).offset() + 1;
            if (after < stream.endOffset()) {
                behind = true;
            }
            return after;
        }

        /** Takes queued live entries (waiting a little when there are none); returns the offset after them. */
        private long takeLive(List<StreamEntry> batch) throws InterruptedException {
            long seen = tapped;
            StreamEntry e = queue.poll(100, TimeUnit.MILLISECONDS);
            long upTo = next;
            while (e != null && batch.size() < MAX_BATCH) {
                if (e != WAKE && e.offset() >= upTo) {
                    // A gap before it holds only entries the filter refused: the tap stops queueing at its first miss.
                    batch.add(e);
                    upTo = e.offset() + 1;
                }
                e = batch.size() < MAX_BATCH ? queue.poll() : null;
            }
            if (batch.isEmpty() && queue.isEmpty() && !behind) {
                upTo = Math.max(upTo, seen);
            }
            return upTo;
        }

        /** Hands a batch to the handler until it takes it; false when the follower closed meanwhile. */
        private boolean deliver(List<StreamEntry> batch) {
            long backoff = 10;
            int failed = 0;
            while (true) {
                try {
                    handler.handle(batch);
                    handled.add(batch.size());
                    if (failed > 0) {
                        log.info("follower={} stream={} handled offset={} after {} failed attempts", name, stream.name(),
                                batch.get(0).offset(), failed);
                    }
                    return true;
                } catch (Exception e) {
                    failures.increment();
                    if (failed++ == 0) {
                        log.warn("follower={} stream={} handler failed at offset={}; retrying until it succeeds: {}",
                                name, stream.name(), batch.get(0).offset(), e.toString(), e);
                    }
                    if (closing) {
                        return false;
                    }
                    pause(backoff);
                    backoff = Math.min(1_000, backoff * 2);
                }
            }
        }

        private void maybeCommit(boolean idle) {
            if (next != committedNext && (idle || System.nanoTime() - lastCommitNanos >= commitIntervalNanos)) {
                commitNow();
            }
        }

        private void commitNow() {
            long at = next;
            if (at == committedNext) {
                return;
            }
            try {
                committed.commit(at);
                committedNext = at;
            } catch (Exception e) {
                log.warn("follower={} stream={} cannot commit offset={}: {}", name, stream.name(), at, e.toString());
            }
            lastCommitNanos = System.nanoTime();
        }

        private void pause(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Live views: from the end of the stream, dropping (and counting) the oldest when the handler falls behind. */
    public static final class LatestOnly extends StreamFollower {

        private final LatestQueue<StreamEntry> queue;
        private volatile long next;

        private LatestOnly(MessageStream stream, String name, Predicate<Message> filter, int capacity, Handler handler) {
            super(stream, name, filter, handler);
            this.queue = new LatestQueue<>(capacity);
            this.next = stream.endOffset();
        }

        @Override
        void onEntry(StreamEntry entry) {
            if (filter.test(entry.message())) {
                queue.push(entry);
            } else {
                next = entry.offset() + 1;
            }
        }

        @Override
        void wake() {
            queue.close();
        }

        @Override
        public long position() {
            return next;
        }

        @Override
        public long dropped() {
            return queue.dropped();
        }

        @Override
        void run() {
            List<StreamEntry> batch = new ArrayList<>(MAX_BATCH);
            while (!closing) {
                batch.clear();
                try {
                    if (queue.drainTo(batch, MAX_BATCH, 1_000) < 0) {
                        return;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (batch.isEmpty()) {
                    continue;
                }
                try {
                    handler.handle(batch);
                    handled.add(batch.size());
                } catch (Exception e) {
                    failures.increment();
                    log.warn("follower={} stream={} live handler failed at offset={}; the batch is dropped: {}",
                            name, stream.name(), batch.get(0).offset(), e.toString());
                }
                next = batch.get(batch.size() - 1).offset() + 1;
            }
        }
    }
}
