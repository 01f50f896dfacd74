package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.config.JunctionConfig;
import io.junction.core.config.JunctionConfig.Fsync;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
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
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The embedded streams adapter: a durable append-only log of messages in segment files, one directory per stream.
 *
 * <p>{@link #append} only puts the message on a bounded queue (blocking when it is full: back-pressure). One writer
 * thread takes whatever has accumulated, encodes it into a reused buffer, writes it with few calls, forces it to
 * disk as the fsync policy says, and only then publishes the new end, completes the futures in offset order and
 * calls the taps. While a force runs the next batch accumulates, so the batch size follows the load. Readers use
 * positional reads of their own and never look past the published end.
 *
 * <p>On open the last segment is scanned record by record (length, CRC32C, offset) and a torn or damaged tail is
 * cut, so after a crash every acknowledged message is there exactly once, in order.
 */
public final class LogStream implements MessageStream {

    private static final Logger log = LoggerFactory.getLogger(LogStream.class);

    static final int QUEUE_CAPACITY = 4096;
    static final int MAX_BATCH = 4096;
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
    private final ArrayBlockingQueue<Pending> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final Object tapsLock = new Object();
    private volatile LogTap[] taps = new LogTap[0];
    private final Thread writer;

    private final MeterRegistry registry;
    private final Counter appends;
    private final DistributionSummary batchSize;
    private final Gauge bytes;

    /** Offsets below it are fully written (and forced, with fsync=always): what readers and taps may see. */
    private volatile long committedEnd;
    private volatile long committedBytes;
    private volatile boolean closed;
    private volatile boolean writerExited;
    private volatile Throwable failure;

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
                      ConcurrentSkipListMap<Long, Segment> segments, Segment active, MeterRegistry registry) {
        this.name = name;
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
        this.batchSize = DistributionSummary.builder("junction.stream.batch.size").tag("stream", name)
                .description("Messages written per group commit").register(registry);
        this.bytes = Gauge.builder("junction.stream.bytes", this, LogStream::sizeBytes).tag("stream", name)
                .description("Bytes the stream takes on disk").baseUnit("bytes").register(registry);
        this.writer = Thread.ofPlatform().name("junction-log-" + name).daemon(true).unstarted(this::runWriter);
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
        Objects.requireNonNull(settings, "settings");
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
            LogStream stream = new LogStream(name, dir, settings, lockChannel, lock, segments, active, registry);
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
        committedBytes = sealedBytes + active.size;
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
        Throwable failed = failure;
        if (failed != null) {
            return CompletableFuture.failedFuture(failedException(failed));
        }
        if (closed) {
            return CompletableFuture.failedFuture(closedException());
        }
        Pending pending = new Pending(message);
        try {
            queue.put(pending);
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

    @Override
    public List<StreamEntry> read(long fromOffset, int max) {
        if (closed) {
            throw closedException();
        }
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
        LogTap tap = new LogTap(listener);
        synchronized (tapsLock) {
            LogTap[] now = Arrays.copyOf(taps, taps.length + 1);
            now[now.length - 1] = tap;
            taps = now;
        }
        return tap;
    }

    /**
     * Stops taking appends, writes and forces everything already queued (completing those futures), fails what
     * raced in after, and closes the files. Waits for the writer; idempotent.
     */
    @Override
    public void close() {
        if (Thread.currentThread() == writer) {
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
        registry.remove(batchSize);
        registry.remove(bytes);
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
        LogTap[] current = taps;
        if (current.length == 0) {
            return;
        }
        for (Pending p : batch) {
            if (p == STOP) {
                continue;
            }
            StreamEntry entry = new StreamEntry(p.offset, p.message);
            for (LogTap tap : current) {
                tap.deliver(entry);
            }
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
        private boolean warned;

        LogTap(Consumer<StreamEntry> listener) {
            this.listener = listener;
        }

        void deliver(StreamEntry entry) {
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
