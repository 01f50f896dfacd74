package io.junction.store.status;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
import io.junction.store.log.MessageCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * The embedded status adapter: the last message of every routing key, in memory, with a snapshot in
 * {@code <data dir>/status/status.snapshot} that records the raw-stream offset it covers. After a restart (even a
 * {@code kill -9}) the snapshot plus a replay of the raw stream from {@link #nextOffset()} gives the exact status:
 * {@link #follow} does that with an at-least-once {@link StreamFollower} that starts at {@link #nextOffset()} (the
 * snapshot is its committed offset), so entries seen twice are ignored by their offset.
 *
 * <p>The snapshot is written atomically (temporary file, fsync, rename) every few seconds when something changed, on
 * {@link #snapshot()} and on {@link #close()}.
 */
public final class EmbeddedStatusStore implements StatusStore {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedStatusStore.class);

    public static final Duration DEFAULT_SNAPSHOT_INTERVAL = Duration.ofSeconds(5);
    static final String SNAPSHOT = "status.snapshot";
    private static final int MAGIC = 0x4a535331; // "JSS1"
    /** Live entries the status follower keeps in memory before it reads from the log instead. */
    private static final int FOLLOW_CAPACITY = 4096;
    private static final Duration STALL = Duration.ofSeconds(30);

    private final Path dir;
    private final ConcurrentHashMap<RoutingKey, Message> last = new ConcurrentHashMap<>();
    /** Serialises applying entries, so that the offset check and the update are one step. */
    private final ReentrantLock applyLock = new ReentrantLock();
    /** Signalled whenever {@link #nextOffset} moves, for {@link #follow} waiting to have caught up. */
    private final Condition advanced = applyLock.newCondition();
    private final ReentrantLock snapshotLock = new ReentrantLock();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread snapshotter;
    private volatile long nextOffset;
    private volatile long snapshotOffset;
    private volatile boolean closed;

    private EmbeddedStatusStore(Path dir, Map<RoutingKey, Message> loaded, long nextOffset, Duration interval) {
        this.dir = dir;
        this.last.putAll(loaded);
        this.nextOffset = nextOffset;
        this.snapshotOffset = nextOffset;
        this.snapshotter = Thread.ofVirtual().name("junction-status-snapshot").unstarted(() -> snapshotLoop(interval));
    }

    /** Opens the status kept in {@code <dataDir>/status}, snapshotting every {@link #DEFAULT_SNAPSHOT_INTERVAL}. */
    public static EmbeddedStatusStore open(Path dataDir) {
        return open(dataDir, DEFAULT_SNAPSHOT_INTERVAL);
    }

    /**
     * Opens the status kept in {@code <dataDir>/status}, loading its snapshot if there is one. A damaged snapshot is
     * set aside (renamed) and the status starts empty at offset 0, so that a full replay rebuilds it.
     */
    public static EmbeddedStatusStore open(Path dataDir, Duration snapshotInterval) {
        Objects.requireNonNull(snapshotInterval, "snapshotInterval");
        if (snapshotInterval.isNegative() || snapshotInterval.isZero()) {
            throw new IllegalArgumentException("the status snapshot interval must be positive, got " + snapshotInterval);
        }
        Path dir = dataDir.resolve("status");
        Map<RoutingKey, Message> loaded = new ConcurrentHashMap<>();
        long next = 0;
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(SNAPSHOT);
            if (Files.exists(file)) {
                try {
                    next = load(file, loaded);
                    log.info("status loaded snapshot={} keys={} nextOffset={}", file, loaded.size(), next);
                } catch (IOException | RuntimeException e) {
                    Path aside = dir.resolve(SNAPSHOT + ".damaged-" + System.currentTimeMillis());
                    Files.move(file, aside);
                    log.warn("status snapshot {} is damaged ({}); moved it to {} and will rebuild from the raw stream",
                            file, e.getMessage(), aside.getFileName());
                    loaded.clear();
                    next = 0;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the status in " + dir + ": " + e.getMessage(), e);
        }
        EmbeddedStatusStore store = new EmbeddedStatusStore(dir, loaded, next, snapshotInterval);
        store.snapshotter.start();
        return store;
    }

    @Override
    public void update(StreamEntry entry) {
        applyLock.lock();
        try {
            apply(entry);
        } finally {
            applyLock.unlock();
        }
    }

    private void apply(StreamEntry entry) {
        if (entry.offset() < nextOffset) {
            return;
        }
        last.put(entry.message().key(), entry.message());
        nextOffset = entry.offset() + 1;
        advanced.signalAll();
    }

    @Override
    public Optional<Message> get(RoutingKey key) {
        return Optional.ofNullable(last.get(key));
    }

    @Override
    public List<Message> find(RoutingPattern pattern) {
        if (pattern.isLiteral()) {
            if (!RoutingKey.isValid(pattern.value())) {
                return List.of();
            }
            Message m = last.get(RoutingKey.of(pattern.value()));
            return m == null ? List.of() : List.of(m);
        }
        List<Message> found = new ArrayList<>();
        for (Message m : last.values()) {
            if (pattern.matches(m.key())) {
                found.add(m);
            }
        }
        found.sort((a, b) -> a.key().compareTo(b.key()));
        return found;
    }

    @Override
    public long nextOffset() {
        return nextOffset;
    }

    /** How many routing keys have a status. */
    public int size() {
        return last.size();
    }

    /**
     * Keeps the status current with {@code raw}: follows it at least once from {@link #nextOffset()} and returns once
     * the status has caught up with the end the stream had when this was called, so that a server answers with the
     * full status from its first request. When the stream ends before {@link #nextOffset()} (it lost a tail it had
     * not forced), the status is first rebuilt from the start of the stream. Closing the follower stops following.
     */
    public StreamFollower follow(MessageStream raw) {
        long target = raw.endOffset();
        applyLock.lock();
        try {
            if (nextOffset > target) {
                log.warn("status covers up to offset {} but stream '{}' ends at {}: rebuilding the status from offset {}",
                        nextOffset, raw.name(), target, raw.startOffset());
                last.clear();
                nextOffset = raw.startOffset();
            }
        } finally {
            applyLock.unlock();
        }
        StreamFollower follower = StreamFollower.atLeastOnce(raw, "status", CommittedOffset.startAt(nextOffset),
                m -> true, FOLLOW_CAPACITY, this::applyAll);
        try {
            awaitOffset(raw, target);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("status: interrupted while catching up with stream '{}' (at offset {} of {}); it goes on in the background",
                    raw.name(), nextOffset, target);
        }
        return follower;
    }

    private void applyAll(List<StreamEntry> batch) {
        applyLock.lock();
        try {
            for (StreamEntry e : batch) {
                apply(e);
            }
        } finally {
            applyLock.unlock();
        }
    }

    /** Waits until the status reaches {@code target}, or until it made no progress for {@link #STALL}. */
    private void awaitOffset(MessageStream raw, long target) throws InterruptedException {
        applyLock.lock();
        try {
            while (nextOffset < target) {
                long before = nextOffset;
                if (!advanced.await(STALL.toMillis(), TimeUnit.MILLISECONDS) && nextOffset == before) {
                    log.warn("status: no progress catching up with stream '{}' for {} s (at offset {} of {}); "
                            + "going on while it catches up in the background", raw.name(), STALL.toSeconds(), before, target);
                    return;
                }
            }
        } finally {
            applyLock.unlock();
        }
    }

    /** Writes the snapshot now if anything changed since the last one. */
    public void snapshot() {
        snapshotLock.lock();
        try {
            // Read the offset before the map: every entry below it is in the map (or was overwritten by a newer one,
            // which a replay from this offset puts right again).
            long covered = nextOffset;
            if (covered == snapshotOffset && Files.exists(dir.resolve(SNAPSHOT))) {
                return;
            }
            write(covered);
            snapshotOffset = covered;
        } catch (IOException e) {
            log.warn("status snapshot to {} failed (will retry): {}", dir, e.toString());
            throw new UncheckedIOException("cannot write the status snapshot in " + dir + ": " + e.getMessage(), e);
        } finally {
            snapshotLock.unlock();
        }
    }

    /** Stops the background snapshots and writes a last one. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        stop.countDown();
        try {
            snapshotter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        snapshot();
        log.info("status closed keys={} nextOffset={}", last.size(), nextOffset);
    }

    private void snapshotLoop(Duration interval) {
        while (true) {
            try {
                if (stop.await(interval.toMillis(), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                return;
            }
            try {
                snapshot();
            } catch (RuntimeException e) {
                // logged by snapshot(); the next round retries
            }
        }
    }

    /*
     * Snapshot file: [int magic][long next offset][int count], count times [int length][message payload as the
     * log encodes it], then [int CRC32C of everything before].
     */
    private void write(long covered) throws IOException {
        Path tmp = dir.resolve(SNAPSHOT + ".tmp");
        int count = 0;
        try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            CRC32C crc = new CRC32C();
            OutputStream raw = Channels.newOutputStream(channel);
            DataOutputStream out = new DataOutputStream(new CheckedOutputStream(new BufferedOutputStream(raw, 64 * 1024), crc));
            List<Message> messages = new ArrayList<>(last.values());
            out.writeInt(MAGIC);
            out.writeLong(covered);
            out.writeInt(messages.size());
            MessageCodec codec = new MessageCodec();
            byte[] buf = new byte[4096];
            for (Message m : messages) {
                int size = codec.measure(m);
                if (size > buf.length) {
                    buf = new byte[Math.max(size, buf.length * 2)];
                }
                codec.encode(buf, 0, 0, m);
                out.writeInt(size);
                out.write(buf, 0, size);
                count++;
            }
            out.flush();
            int checksum = (int) crc.getValue();
            ByteBuffer trailer = ByteBuffer.allocate(4).putInt(checksum).flip();
            while (trailer.hasRemaining()) {
                channel.write(trailer);
            }
            channel.force(true);
        }
        Files.move(tmp, dir.resolve(SNAPSHOT), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
        log.debug("status snapshot written keys={} nextOffset={}", count, covered);
    }

    private static long load(Path file, Map<RoutingKey, Message> into) throws IOException {
        byte[] data = Files.readAllBytes(file);
        if (data.length < 20) {
            throw new IOException("the file is too short (" + data.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 4);
        if ((int) crc.getValue() != b.getInt(data.length - 4)) {
            throw new IOException("its checksum does not match");
        }
        if (b.getInt() != MAGIC) {
            throw new IOException("it is not a status snapshot");
        }
        long next = b.getLong();
        int count = b.getInt();
        for (int i = 0; i < count; i++) {
            int size = b.getInt();
            if (size < MessageCodec.MIN_PAYLOAD || size > data.length - 4 - b.position()) {
                throw new IOException("entry " + i + " has a bad length " + size);
            }
            Message m = MessageCodec.decode(data, b.position(), size);
            into.put(m.key(), m);
            b.position(b.position() + size);
        }
        if (b.position() != data.length - 4) {
            throw new IOException((data.length - 4 - b.position()) + " bytes are left after the entries");
        }
        return next;
    }
}
