package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.config.JunctionConfig;
import io.junction.core.config.JunctionConfig.Fsync;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFullException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The embedded streams adapter: a durable append-only log of messages in segment files, one directory per stream.
 *
 * <p>{@link #append} only offers the message to a bounded queue and never blocks: when the queue is full it returns a
 * future already failed with {@link StreamFullException}, so the producer pushes back on its own input
 * ({@link #appendWaiting} waits for room instead, for producers with a thread of their own). One writer thread takes
 * whatever has accumulated, encodes it into a reused buffer, writes it with few calls, forces it to disk as the fsync
 * policy says, and only then publishes the new end, completes the futures in offset order and signals the
 * dispatcher. That is all it does: no listener code runs on it, so nothing a consumer does delays durable writes or
 * acknowledgements. While a force runs the next batch accumulates, so the batch size follows the load. Readers use
 * positional reads of their own and never look past the published end.
 *
 * <p>The taps are fed by a dispatcher thread, in offset order. The writer puts every entry it writes in a fixed ring
 * indexed by offset before it publishes the end; the dispatcher takes committed entries from the ring, and when a
 * slow tap let the writer overwrite the ring it reads them back from the log instead. A slow tap delays only the
 * dispatcher (and so the other taps), never the writer.
 *
 * <p>On open the last segment is scanned record by record (length, CRC32C, offset) and a torn or damaged tail is
 * cut, so after a crash every acknowledged message is there exactly once, in order.
 */
public final class LogStream implements MessageStream {

    private static final Logger log = LoggerFactory.getLogger(LogStream.class);

    static final int QUEUE_CAPACITY = 4096;
    static final int MAX_BATCH = 4096;
    /** Entries the dispatcher can take without reading the log: a power of two, one full batch. */
    static final int RING = 4096;
    private static final int RING_MASK = RING - 1;
    /** Entries the dispatcher hands over between looks at the taps and the end. */
    private static final int DISPATCH_CHUNK = 512;
    private static final long CLOSE_WAIT_MILLIS = 5_000;
    private static final int INITIAL_BUFFER_BYTES = 1024 * 1024;
    private static final long IDLE_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final Pending STOP = new Pending(null);

    /** The future {@link #append} returns, carrying its message to the writer: one object per append. */
    private static final class Pending extends CompletableFuture<Long> {
        final Message message;
        long offset = -1;

        Pending(Message message) {
            this.message = message;
        }
    }

    private final String name;
    private final Path dir;
    private final Fsync fsync;
    private final long fsyncIntervalNanos;
    private final long segmentBytes;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final ConcurrentSkipListMap<Long, Segment> segments;
    private final ArrayBlockingQueue<Pending> queue;
    private final Object tapsLock = new Object();
    private volatile LogTap[] taps = new LogTap[0];
    private final Thread writer;
    private final Thread dispatcher;
    /**
     * The last {@link #RING} entries written, at {@code offset & RING_MASK}; filled by the writer before it publishes
     * the end. A slot may be overwritten while the dispatcher looks at it, so the dispatcher checks the entry's offset
     * (entries are immutable records, safe to share through the race).
     */
    private final StreamEntry[] ring = new StreamEntry[RING];

    private final MeterRegistry registry;
    private final Counter appends;
    private final Counter refused;
    private final DistributionSummary batchSize;
    private final Gauge bytes;
    private final Gauge dispatchLag;
    private final LongAdder ringMisses = new LongAdder();

    /** Offsets below it are fully written (and forced, with fsync=always): what readers and taps may see. */
    private volatile long committedEnd;
    private volatile long committedBytes;
    private volatile boolean closed;
    private volatile boolean writerExited;
    private volatile Throwable failure;
    /** The next offset the dispatcher hands to the taps; the dispatcher's, read by the lag gauge. */
    private volatile long dispatched;
    /** Set when close gave up waiting for a tap that blocks: the dispatcher stops at its next look. */
    private volatile boolean dispatchStop;

    // The writer thread's own state.
    private Segment active;
    private long nextOffset;
    private long sealedBytes;
    private byte[] buffer = new byte[INITIAL_BUFFER_BYTES];
    private ByteBuffer bufferView = ByteBuffer.wrap(buffer);
    private final CRC32C crc = new CRC32C();
    private final MessageCodec codec = new MessageCodec();
    private long lastForceNanos = System.nanoTime();
    private boolean unforced;

    private LogStream(String name, Path dir, JunctionConfig.Data settings, FileChannel lockChannel, FileLock lock,
                      ConcurrentSkipListMap<Long, Segment> segments, Segment active, MeterRegistry registry,
                      int queueCapacity) {
        this.name = name;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.dir = dir;
        this.fsync = settings.fsync();
        this.fsyncIntervalNanos = TimeUnit.MILLISECONDS.toNanos(settings.fsyncIntervalMillis());
        this.segmentBytes = settings.segmentBytes();
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.segments = segments;
        this.active = active;
        long sealed = 0;
        for (Segment s : segments.values()) {
            if (s != active) {
                sealed += s.size;
            }
        }
        this.sealedBytes = sealed;
        this.registry = registry;
        this.appends = Counter.builder("junction.stream.appends").tag("stream", name)
                .description("Messages appended to the stream").register(registry);
        this.refused = Counter.builder("junction.stream.refused").tag("stream", name)
                .description("Appends refused at once because the append queue was full").register(registry);
        this.batchSize = DistributionSummary.builder("junction.stream.batch.size").tag("stream", name)
                .description("Messages written per group commit").register(registry);
        this.bytes = Gauge.builder("junction.stream.bytes", this, LogStream::sizeBytes).tag("stream", name)
                .description("Bytes the stream takes on disk").baseUnit("bytes").register(registry);
        this.dispatchLag = Gauge.builder("junction.stream.dispatch.lag", this, s -> s.committedEnd - s.dispatched)
                .tag("stream", name).description("Durable entries not yet handed to the stream's taps").register(registry);
        this.writer = Thread.ofPlatform().name("junction-log-" + name).daemon(true).unstarted(this::runWriter);
        this.dispatcher = Thread.ofPlatform().name("junction-log-" + name + "-taps").daemon(true)
                .unstarted(this::runDispatcher);
    }

    /** Opens (creating it if needed) the stream {@code name} in {@code <data dir>/streams/<name>}. */
    public static LogStream open(JunctionConfig.Data settings, String name, MeterRegistry registry) {
        return open(settings.dir().resolve("streams").resolve(name), name, settings, registry);
    }

    /**
     * Opens (creating it if needed) the stream whose segment files are in {@code dir}, recovering from a crash: a
     * torn or damaged tail of the last segment is cut. The fsync policy and segment size come from {@code settings};
     * its {@code dir} is not used. Fails when another process has the directory open.
     */
    public static LogStream open(Path dir, String name, JunctionConfig.Data settings, MeterRegistry registry) {
        return open(dir, name, settings, registry, QUEUE_CAPACITY);
    }

    /** As {@link #open(Path, String, JunctionConfig.Data, MeterRegistry)} with an append queue of another size (tests). */
    static LogStream open(Path dir, String name, JunctionConfig.Data settings, MeterRegistry registry, int queueCapacity) {
        Objects.requireNonNull(settings, "settings");
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("stream '" + name + "': the append queue needs room for at least one message");
        }
        if (settings.segmentBytes() < 1024) {
            throw new IllegalArgumentException("stream '" + name + "': segment size must be at least 1024 bytes, got "
                    + settings.segmentBytes());
        }
        if (settings.fsync() == Fsync.INTERVAL && settings.fsyncIntervalMillis() <= 0) {
            throw new IllegalArgumentException("stream '" + name + "': the fsync interval must be positive, got "
                    + settings.fsyncIntervalMillis() + " ms");
        }
        FileChannel lockChannel = null;
        List<Segment> opened = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            lockChannel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IllegalStateException("stream '" + name + "': " + dir + " is already open (by this or another process)");
            }
            TreeMap<Long, Path> files = new TreeMap<>();
            try (Stream<Path> list = Files.list(dir)) {
                list.filter(Segment::isSegmentFile)
                        .forEach(p -> files.put(Segment.parseBaseOffset(p.getFileName().toString()), p));
            }
            Segment active = null;
            long end = 0;
            while (!files.isEmpty()) {
                Map.Entry<Long, Path> last = files.lastEntry();
                Segment s = Segment.openForWrite(last.getValue(), last.getKey());
                opened.add(s);
                Segment.Scan scan = s.recover();
                if (!scan.complete()) {
                    log.warn("stream={} segment={} cut {} bytes of a torn or damaged tail at position {} after offset {}: {}",
                            name, s.path.getFileName(), scan.fileBytes() - scan.validBytes(), scan.validBytes(),
                            scan.endOffset() - 1, scan.problem());
                }
                if (scan.endOffset() == s.baseOffset && files.size() > 1) {
                    // An empty last segment: a crash right after a roll, or its only records were cut. The one before
                    // it is the real end; it may have lost its own tail when writes were not forced.
                    s.close();
                    opened.remove(s);
                    Files.delete(s.path);
                    log.warn("stream={} removed the empty last segment {}", name, s.path.getFileName());
                    files.remove(last.getKey());
                    continue;
                }
                active = s;
                end = scan.endOffset();
                files.remove(last.getKey());
                break;
            }
            if (active == null) {
                active = Segment.create(dir, 0);
                end = 0;
                opened.add(active);
                forceDirectory(dir);
            }
            ConcurrentSkipListMap<Long, Segment> segments = new ConcurrentSkipListMap<>();
            for (Map.Entry<Long, Path> e : files.entrySet()) {
                Segment s = Segment.openSealed(e.getValue(), e.getKey());
                opened.add(s);
                segments.put(s.baseOffset, s);
            }
            segments.put(active.baseOffset, active);
            LogStream stream = new LogStream(name, dir, settings, lockChannel, lock, segments, active, registry, queueCapacity);
            stream.start(end);
            return stream;
        } catch (IOException | RuntimeException e) {
            for (Segment s : opened) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
            if (lockChannel != null) {
                try {
                    lockChannel.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("stream '" + name + "': cannot open " + dir + ": " + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
    }

    private void start(long end) {
        nextOffset = end;
        committedEnd = end;
        dispatched = end;
        committedBytes = sealedBytes + active.size;
        dispatcher.start();
        writer.start();
        log.info("stream={} opened dir={} segments={} start={} end={} bytes={} fsync={}",
                name, dir, segments.size(), startOffset(), end, committedBytes, fsync);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public CompletableFuture<Long> append(Message message) {
        Objects.requireNonNull(message, "message");
        CompletableFuture<Long> refusal = refusal();
        if (refusal != null) {
            return refusal;
        }
        Pending pending = new Pending(message);
        if (!queue.offer(pending)) {
            refused.increment();
            return CompletableFuture.failedFuture(new StreamFullException(name));
        }
        if (writerExited) {
            failQueued();
        }
        return pending;
    }

    @Override
    public CompletableFuture<Long> appendWaiting(Message message) {
        Objects.requireNonNull(message, "message");
        Pending pending = new Pending(message);
        try {
            while (!queue.offer(pending, 100, TimeUnit.MILLISECONDS)) {
                // The writer may have stopped meanwhile; then nothing would ever make room.
                CompletableFuture<Long> refusal = refusal();
                if (refusal != null) {
                    return refusal;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CompletableFuture.failedFuture(new IllegalStateException(
                    "stream '" + name + "': interrupted while waiting for room in the append queue", e));
        }
        if (writerExited) {
            failQueued();
        }
        return pending;
    }

    /** A failed future when the stream takes no more appends, else null. */
    private CompletableFuture<Long> refusal() {
        Throwable failed = failure;
        if (failed != null) {
            return CompletableFuture.failedFuture(failedException(failed));
        }
        if (closed) {
            return CompletableFuture.failedFuture(closedException());
        }
        return null;
    }

    @Override
    public List<StreamEntry> read(long fromOffset, int max) {
        if (closed) {
            throw closedException();
        }
        return readCommitted(fromOffset, max);
    }

    /** Up to {@code max} committed entries from {@code fromOffset} on (also while closing, for the dispatcher). */
    private List<StreamEntry> readCommitted(long fromOffset, int max) {
        long end = committedEnd;
        long from = Math.max(fromOffset, startOffset());
        if (max <= 0 || from >= end) {
            return List.of();
        }
        long limit = from + Math.min(max, end - from);
        List<StreamEntry> out = new ArrayList<>((int) (limit - from));
        Map.Entry<Long, Segment> e = segments.floorEntry(from);
        while (e != null && from < limit) {
            Map.Entry<Long, Segment> next = segments.higherEntry(e.getKey());
            long to = next == null ? limit : Math.min(limit, next.getKey());
            e.getValue().read(name, from, to, out);
            from = to;
            e = next;
        }
        return out;
    }

    @Override
    public long offsetAt(long epochMillis) {
        if (closed) {
            throw closedException();
        }
        long end = committedEnd;
        for (Segment s : segments.values()) {
            if (s.baseOffset >= end) {
                break;
            }
            long found = s.offsetAt(name, epochMillis, end);
            if (found >= 0) {
                return found;
            }
        }
        return end;
    }

    @Override
    public long endOffset() {
        return committedEnd;
    }

    @Override
    public long startOffset() {
        return segments.firstKey();
    }

    @Override
    public long sizeBytes() {
        return committedBytes;
    }

    @Override
    public Tap tap(Consumer<StreamEntry> listener) {
        Objects.requireNonNull(listener, "listener");
        LogTap tap;
        synchronized (tapsLock) {
            // It starts at the end as the dispatcher sees it (see runDispatcher): a lagging dispatcher does not hand it
            // entries from before it was registered, and a chunk taken without it ends before this offset.
            tap = new LogTap(listener, committedEnd);
            LogTap[] now = Arrays.copyOf(taps, taps.length + 1);
            now[now.length - 1] = tap;
            taps = now;
        }
        return tap;
    }

    /** How many times the dispatcher found the ring overwritten and read entries back from the log. */
    long ringMisses() {
        return ringMisses.sum();
    }

    /**
     * Stops taking appends, writes and forces everything already queued (completing those futures), fails what
     * raced in after, lets the taps see everything committed (waiting at most five seconds for a tap that blocks),
     * and closes the files. Waits for the writer; idempotent.
     */
    @Override
    public void close() {
        if (Thread.currentThread() == dispatcher) {
            throw new IllegalStateException("stream '" + name + "' cannot be closed from one of its taps");
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        queue.offer(STOP);
        boolean interrupted = false;
        while (writer.isAlive()) {
            try {
                writer.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        failQueued();
        LockSupport.unpark(dispatcher);
        try {
            if (!dispatcher.join(java.time.Duration.ofMillis(CLOSE_WAIT_MILLIS))) {
                log.warn("stream={} a tap is still busy at offset={} after {} ms; closing without waiting for it",
                        name, dispatched, CLOSE_WAIT_MILLIS);
                dispatchStop = true;
                dispatcher.interrupt();
                dispatcher.join(java.time.Duration.ofSeconds(1));
            }
        } catch (InterruptedException e) {
            interrupted = true;
            dispatchStop = true;
        }
        for (Segment s : segments.values()) {
            try {
                s.close();
            } catch (IOException e) {
                log.warn("stream={} cannot close {}: {}", name, s.path, e.toString());
            }
        }
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            log.warn("stream={} cannot release the lock of {}: {}", name, dir, e.toString());
        }
        registry.remove(appends);
        registry.remove(refused);
        registry.remove(batchSize);
        registry.remove(bytes);
        registry.remove(dispatchLag);
        log.info("stream={} closed end={} bytes={}", name, committedEnd, committedBytes);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- the writer thread ----

    private void runWriter() {
        List<Pending> batch = new ArrayList<>(MAX_BATCH);
        try {
            while (!closed || !queue.isEmpty()) {
                Pending first = queue.poll(pollNanos(), TimeUnit.NANOSECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, MAX_BATCH - 1);
                    int written = writeBatch(batch);
                    if (written > 0) {
                        complete(batch, written);
                    }
                    batch.clear();
                }
                if (unforced && System.nanoTime() - lastForceNanos >= fsyncIntervalNanos) {
                    force();
                }
            }
            if (unforced || fsync == Fsync.NEVER) {
                force();
            }
        } catch (Throwable t) {
            failure = t;
            log.error("stream={} write failed at offset={}; appends fail until restart: {}", name, committedEnd,
                    t.toString(), t);
            for (Pending p : batch) {
                if (p != STOP) {
                    p.completeExceptionally(failedException(t));
                }
            }
        } finally {
            writerExited = true;
            failQueued();
            LockSupport.unpark(dispatcher);
        }
    }

    private long pollNanos() {
        if (!unforced) {
            return IDLE_POLL_NANOS;
        }
        return Math.max(1, fsyncIntervalNanos - (System.nanoTime() - lastForceNanos));
    }

    /** Encodes, writes and forces a batch; returns how many messages it held. */
    private int writeBatch(List<Pending> batch) throws IOException {
        int buffered = 0;
        int count = 0;
        for (Pending p : batch) {
            if (p == STOP) {
                continue;
            }
            Message m = p.message;
            int payload = codec.measure(m);
            int record = RecordCursor.HEADER + payload;
            if (active.size + buffered + record > segmentBytes && active.size + buffered > 0) {
                flush(buffered);
                buffered = 0;
                roll();
            }
            if (buffered + record > buffer.length) {
                flush(buffered);
                buffered = 0;
                if (record > buffer.length) {
                    buffer = new byte[Math.max(record, buffer.length * 2)];
                    bufferView = ByteBuffer.wrap(buffer);
                }
            }
            long offset = nextOffset++;
            codec.encode(buffer, buffered + RecordCursor.HEADER, offset, m);
            crc.reset();
            crc.update(buffer, buffered + RecordCursor.HEADER, payload);
            MessageCodec.INT.set(buffer, buffered, payload);
            MessageCodec.INT.set(buffer, buffered + 4, (int) crc.getValue());
            active.onRecord(offset, active.size + buffered, m.ts());
            ring[(int) (offset & RING_MASK)] = new StreamEntry(offset, m);
            buffered += record;
            p.offset = offset;
            count++;
        }
        if (count == 0) {
            return 0;
        }
        flush(buffered);
        if (fsync == Fsync.ALWAYS) {
            force();
        } else if (fsync == Fsync.INTERVAL) {
            unforced = true;
            if (System.nanoTime() - lastForceNanos >= fsyncIntervalNanos) {
                force();
            }
        }
        active.publishMaxTs();
        committedBytes = sealedBytes + active.size;
        committedEnd = nextOffset;
        return count;
    }

    private void flush(int length) throws IOException {
        if (length == 0) {
            return;
        }
        bufferView.clear();
        bufferView.limit(length);
        long position = active.size;
        while (bufferView.hasRemaining()) {
            position += active.channel.write(bufferView, position);
        }
        active.size = position;
    }

    private void force() throws IOException {
        active.channel.force(false);
        lastForceNanos = System.nanoTime();
        unforced = false;
    }

    private void roll() throws IOException {
        Segment old = active;
        if (fsync != Fsync.NEVER) {
            old.channel.force(false);
        }
        old.publishMaxTs();
        Segment next = Segment.create(dir, nextOffset);
        if (fsync != Fsync.NEVER) {
            forceDirectory(dir);
        }
        sealedBytes += old.size;
        segments.put(next.baseOffset, next);
        active = next;
        log.debug("stream={} rolled to segment {}", name, next.path.getFileName());
    }

    private void complete(List<Pending> batch, int written) {
        appends.increment(written);
        batchSize.record(written);
        for (Pending p : batch) {
            if (p != STOP) {
                p.complete(p.offset);
            }
        }
        LockSupport.unpark(dispatcher);
    }

    // ---- the dispatcher thread ----

    /** Hands every committed entry to the taps in offset order, until the writer has stopped and all is handed over. */
    private void runDispatcher() {
        while (!dispatchStop) {
            long next = dispatched;
            LogTap[] current;
            long end;
            synchronized (tapsLock) {
                // Taken together with registration: a tap registered after this look starts at or after this end.
                current = taps;
                end = committedEnd;
            }
            if (next >= end) {
                if (writerExited && committedEnd <= next) {
                    return;
                }
                LockSupport.parkNanos(this, IDLE_POLL_NANOS);
                continue;
            }
            try {
                dispatch(current, next, Math.min(end, next + DISPATCH_CHUNK));
            } catch (RuntimeException e) {
                if (dispatchStop) {
                    return;
                }
                log.warn("stream={} cannot read offset={} back for the taps (retrying): {}", name, dispatched, e.toString());
                LockSupport.parkNanos(this, IDLE_POLL_NANOS);
            }
        }
    }

    /**
     * Hands the entries in [from, to) to the taps. {@link #dispatched} ends after the last one handed over, also when
     * reading the log fails half-way, so that no tap sees an entry twice.
     */
    private void dispatch(LogTap[] current, long from, long to) {
        long o = from;
        try {
            if (current.length == 0) {
                o = to;
                return;
            }
            while (o < to) {
                StreamEntry e = ring[(int) (o & RING_MASK)];
                if (e != null && e.offset() == o) {
                    deliver(current, e);
                    o++;
                    continue;
                }
                // The writer went round the ring while the taps were busy: the rest of the chunk comes from the log.
                ringMisses.increment();
                List<StreamEntry> chunk = readCommitted(o, (int) (to - o));
                if (chunk.isEmpty()) {
                    o = to;
                    return;
                }
                for (StreamEntry x : chunk) {
                    deliver(current, x);
                    o = x.offset() + 1;
                }
            }
        } finally {
            dispatched = o;
        }
    }

    private static void deliver(LogTap[] current, StreamEntry entry) {
        for (LogTap tap : current) {
            tap.deliver(entry);
        }
    }

    private void failQueued() {
        List<Pending> left = new ArrayList<>();
        queue.drainTo(left);
        if (left.isEmpty()) {
            return;
        }
        Throwable failed = failure;
        for (Pending p : left) {
            if (p != STOP) {
                p.completeExceptionally(failed != null ? failedException(failed) : closedException());
            }
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("stream '" + name + "' is closed");
    }

    private IllegalStateException failedException(Throwable cause) {
        return new IllegalStateException("stream '" + name + "' stopped after a write failure (" + cause
                + "); restart the server once the disk is fixed", cause);
    }

    private static void forceDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private final class LogTap implements Tap {
        private final Consumer<StreamEntry> listener;
        /** The first offset it is handed: the committed end when it was registered. */
        private final long from;
        private volatile boolean closed;
        private boolean warned;

        LogTap(Consumer<StreamEntry> listener, long from) {
            this.listener = listener;
            this.from = from;
        }

        void deliver(StreamEntry entry) {
            if (closed || entry.offset() < from) {
                return;
            }
            try {
                listener.accept(entry);
            } catch (RuntimeException e) {
                if (!warned) {
                    warned = true;
                    log.warn("stream={} a tap failed at offset={} (further failures of this tap are not logged): {}",
                            name, entry.offset(), e.toString(), e);
                }
            }
        }

        @Override
        public void close() {
            closed = true;
            synchronized (tapsLock) {
                LogTap[] current = taps;
                int at = -1;
                for (int i = 0; i < current.length; i++) {
                    if (current[i] == this) {
                        at = i;
                    }
                }
                if (at < 0) {
                    return;
                }
                LogTap[] now = new LogTap[current.length - 1];
                System.arraycopy(current, 0, now, 0, at);
                System.arraycopy(current, at + 1, now, at, current.length - at - 1);
                taps = now;
            }
        }
    }
}
