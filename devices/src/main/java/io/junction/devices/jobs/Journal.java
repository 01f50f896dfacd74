package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable record of jobs: the append-only file {@code jobs.log}, one JSON record a line behind its CRC32C
 * ({@code 1a2b3c4d {"t":"begun",...}}). One writer thread group-commits appends: whatever arrived while the previous
 * batch was being written goes out in one write and one fsync, so ten thousand jobs recording at once cost a handful
 * of fsyncs. An append's future completes when its record is on disk. The file is rewritten (compacted) atomically
 * on open and whenever it has grown well past its compacted size; a line cut short by a crash is skipped on reading.
 */
final class Journal implements AutoCloseable {

    static final String FILE = "jobs.log";
    private static final String REWRITING = "jobs.log.rewrite";
    private static final Logger log = LoggerFactory.getLogger(Journal.class);
    private static final int MAX_BATCH = 8_192;
    private static final int CAPACITY = 65_536;

    /** What a journal file holds: its records in order, and how many lines were torn or corrupt and skipped. */
    record Contents(List<ObjectNode> records, int skipped) {
    }

    private sealed interface Entry permits Append, Rewrite, Flush {
    }

    private record Append(ObjectNode record, CompletableFuture<Void> done) implements Entry {
    }

    private record Rewrite(List<ObjectNode> records, CompletableFuture<Void> done) implements Entry {
    }

    private record Flush(CompletableFuture<Void> done) implements Entry {
    }

    private final Path dir;
    private final Path file;
    private final ArrayBlockingQueue<Entry> queue = new ArrayBlockingQueue<>(CAPACITY);
    private final long minRewriteBytes;
    private final DistributionSummary batches;
    /** Bytes appended since the last rewrite, and the size that rewrite left. */
    private final AtomicLong grown = new AtomicLong();
    private volatile long compacted;
    private volatile boolean rewriteQueued;
    private volatile boolean closed;
    private volatile boolean halted;
    private FileChannel channel;
    private long size;
    private final Thread writer;

    private Journal(Path dir, long minRewriteBytes, MeterRegistry metrics) {
        this.dir = dir;
        this.file = dir.resolve(FILE);
        this.minRewriteBytes = minRewriteBytes;
        this.batches = DistributionSummary.builder("junction.jobs.journal.batch")
                .description("records per write and fsync of the jobs journal").register(metrics);
        this.writer = Thread.ofPlatform().daemon().name("jobs-journal").unstarted(this::run);
    }

    /** Reads the journal in {@code dir}; empty when there is none. */
    static Contents read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        List<ObjectNode> records = new ArrayList<>();
        if (!Files.exists(file)) {
            return new Contents(records, 0);
        }
        byte[] bytes = Files.readAllBytes(file);
        int skipped = 0;
        int start = 0;
        CRC32C crc = new CRC32C();
        while (start < bytes.length) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            if (end == bytes.length) {
                skipped++; // the last line was cut short: its record never became durable
                break;
            }
            ObjectNode r = decode(bytes, start, end, crc);
            if (r == null) {
                skipped++;
            } else {
                records.add(r);
            }
            start = end + 1;
        }
        if (skipped > 0) {
            log.warn("jobs journal {}: skipped {} torn or corrupt line(s)", file, skipped);
        }
        return new Contents(records, skipped);
    }

    private static ObjectNode decode(byte[] bytes, int start, int end, CRC32C crc) {
        if (end - start < 11 || bytes[start + 8] != ' ') {
            return null;
        }
        long expected;
        try {
            expected = Long.parseLong(new String(bytes, start, 8, StandardCharsets.US_ASCII), 16);
        } catch (NumberFormatException e) {
            return null;
        }
        crc.reset();
        crc.update(bytes, start + 9, end - start - 9);
        if (crc.getValue() != expected) {
            return null;
        }
        try {
            JsonNode n = Json.MAPPER.readTree(bytes, start + 9, end - start - 9);
            return n instanceof ObjectNode o ? o : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void encode(ObjectNode record, ByteArrayOutputStream out, CRC32C crc) {
        byte[] json;
        try {
            json = Json.MAPPER.writeValueAsBytes(record);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        crc.reset();
        crc.update(json);
        String head = String.format("%08x ", crc.getValue());
        out.writeBytes(head.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(json);
        out.write('\n');
    }

    /**
     * Rewrites the journal in {@code dir} to hold exactly {@code records} (atomically: a crash leaves the old file or
     * the new one) and opens it for appending.
     *
     * @param minRewriteBytes the journal is rewritten again once it has grown by this much and by its compacted size
     */
    static Journal open(Path dir, List<ObjectNode> records, long minRewriteBytes, MeterRegistry metrics) throws IOException {
        Files.createDirectories(dir);
        Journal j = new Journal(dir, minRewriteBytes, metrics);
        j.rewrite(records);
        j.writer.start();
        return j;
    }

    /** Appends {@code record}; the future completes when it is durable, or fails when it cannot be written. */
    CompletableFuture<Void> append(ObjectNode record) {
        return enqueue(new Append(record, new CompletableFuture<>()));
    }

    /** Completes when everything appended before it is durable. */
    CompletableFuture<Void> flush() {
        return enqueue(new Flush(new CompletableFuture<>()));
    }

    /** Replaces the journal by {@code records} (the state of every job kept), after what was appended before. */
    CompletableFuture<Void> compact(List<ObjectNode> records) {
        rewriteQueued = true;
        return enqueue(new Rewrite(records, new CompletableFuture<>()));
    }

    /** Whether the journal has grown enough since its last rewrite that it should be compacted. */
    boolean wantsCompaction() {
        return !rewriteQueued && grown.get() > Math.max(minRewriteBytes, 2 * compacted);
    }

    private CompletableFuture<Void> enqueue(Entry e) {
        CompletableFuture<Void> done = switch (e) {
            case Append a -> a.done();
            case Rewrite r -> r.done();
            case Flush f -> f.done();
        };
        if (closed || halted) {
            done.completeExceptionally(new IllegalStateException("the jobs journal " + file + " is closed"));
            return done;
        }
        try {
            queue.put(e);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(new IllegalStateException("interrupted while waiting for room in the jobs journal"));
        }
        return done;
    }

    private void run() {
        List<Entry> batch = new ArrayList<>();
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1 << 16);
        CRC32C crc = new CRC32C();
        try {
            while (!halted) {
                Entry first;
                try {
                    first = queue.poll(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    continue;
                }
                if (first == null) {
                    if (closed && queue.isEmpty()) {
                        break;
                    }
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                int records = 0;
                for (Entry e : batch) {
                    if (halted) {
                        return;
                    }
                    switch (e) {
                        case Append a -> {
                            try {
                                encode(a.record(), buf, crc);
                                pending.add(a.done());
                                records++;
                            } catch (RuntimeException ex) {
                                a.done().completeExceptionally(ex);
                            }
                        }
                        case Flush f -> pending.add(f.done());
                        case Rewrite r -> {
                            commit(buf, pending);
                            try {
                                rewrite(r.records());
                                r.done().complete(null);
                            } catch (IOException | RuntimeException ex) {
                                log.warn("jobs journal {}: compaction failed, appending to the old file: {}", file, ex.toString());
                                r.done().completeExceptionally(ex);
                            } finally {
                                rewriteQueued = false;
                            }
                        }
                    }
                }
                commit(buf, pending);
                batches.record(records);
                batch.clear();
            }
        } finally {
            try {
                if (channel != null) {
                    channel.close();
                }
            } catch (IOException e) {
                log.warn("jobs journal {}: close failed: {}", file, e.toString());
            }
        }
    }

    /** Writes and fsyncs what {@code buf} holds, then completes {@code pending}. */
    private void commit(ByteArrayOutputStream buf, List<CompletableFuture<Void>> pending) {
        if (buf.size() == 0 && pending.isEmpty()) {
            return;
        }
        try {
            if (buf.size() > 0) {
                ByteBuffer b = ByteBuffer.wrap(buf.toByteArray());
                while (b.hasRemaining()) {
                    channel.write(b);
                }
                channel.force(false);
                size += buf.size();
                grown.addAndGet(buf.size());
            }
            for (CompletableFuture<Void> f : pending) {
                f.complete(null);
            }
        } catch (IOException e) {
            log.error("jobs journal {}: write failed: {}", file, e.toString());
            try {
                channel.truncate(size);
                channel.position(size);
            } catch (IOException ignored) {
                // the next write fails too and says so
            }
            for (CompletableFuture<Void> f : pending) {
                f.completeExceptionally(e);
            }
        } finally {
            buf.reset();
            pending.clear();
        }
    }

    private void rewrite(List<ObjectNode> records) throws IOException {
        Path tmp = dir.resolve(REWRITING);
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1 << 16);
        CRC32C crc = new CRC32C();
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (ObjectNode r : records) {
                encode(r, buf, crc);
                if (buf.size() >= 1 << 20) {
                    out.write(ByteBuffer.wrap(buf.toByteArray()));
                    buf.reset();
                }
            }
            ByteBuffer rest = ByteBuffer.wrap(buf.toByteArray());
            while (rest.hasRemaining()) {
                out.write(rest);
            }
            out.force(true);
        }
        if (channel != null) {
            channel.close();
            channel = null;
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDir();
        channel = FileChannel.open(file, StandardOpenOption.WRITE);
        size = channel.size();
        channel.position(size);
        compacted = size;
        grown.set(0);
    }

    private void syncDir() {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // some file systems cannot sync a directory; the rename is still atomic
        }
    }

    /** Writes and fsyncs what was appended, then closes the file. Appends after this fail. */
    @Override
    public void close() {
        closed = true;
        try {
            writer.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops at once, as a crash would: what was queued and not yet written is lost. For tests. */
    void halt() {
        halted = true;
        writer.interrupt();
        try {
            writer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Path file() {
        return file;
    }
}
