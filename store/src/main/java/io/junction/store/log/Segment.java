package io.junction.store.log;

import io.junction.core.stream.StreamEntry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * One file of a log, named by the offset of its first record ({@code 00000000000000000042.log}), with its sparse
 * index. The active segment is written by the log's writer thread only; every segment is read by any thread.
 * Readers never look past the log's published end offset, so they never see a record that is being written.
 */
final class Segment {

    static final String SUFFIX = ".log";
    /** An index entry at least every this many bytes. */
    static final int INDEX_INTERVAL_BYTES = 4096;

    /** What a scan of the whole file found. */
    record Scan(long validBytes, long endOffset, long fileBytes, RecordCursor.Stop stop, String problem) {
        boolean complete() {
            return validBytes == fileBytes;
        }
    }

    final long baseOffset;
    final Path path;
    final FileChannel channel;
    private final SparseIndex index = new SparseIndex();
    private final Object indexLock = new Object();
    private volatile boolean indexed;
    /** The highest message time of the records in the segment; published by the writer with each batch. */
    private volatile long maxTs = Long.MIN_VALUE;

    // Written by one thread: the writer for the active segment, the indexing scan for a sealed one.
    /** Bytes of whole records in the file. */
    long size;
    private long lastIndexedPosition = -INDEX_INTERVAL_BYTES;
    private long runningMaxTs = Long.MIN_VALUE;

    private Segment(long baseOffset, Path path, FileChannel channel, long size) {
        this.baseOffset = baseOffset;
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    static String fileName(long baseOffset) {
        return String.format("%020d%s", baseOffset, SUFFIX);
    }

    /** The base offset a segment file name stands for, or -1 when the name is not one of a segment. */
    static long parseBaseOffset(String fileName) {
        if (fileName.length() != 20 + SUFFIX.length() || !fileName.endsWith(SUFFIX)) {
            return -1;
        }
        for (int i = 0; i < 20; i++) {
            char c = fileName.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
        }
        try {
            return Long.parseLong(fileName, 0, 20, 10);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Creates a new, empty segment to write to; fails if the file exists. */
    static Segment create(Path dir, long baseOffset) throws IOException {
        Path path = dir.resolve(fileName(baseOffset));
        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        Segment segment = new Segment(baseOffset, path, channel, 0);
        segment.indexed = true;
        return segment;
    }

    /** Opens an existing segment for writing at its end: {@link #recover} must follow. */
    static Segment openForWrite(Path path, long baseOffset) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new Segment(baseOffset, path, channel, 0);
    }

    /** Opens a sealed segment for reading; it is indexed on first use. */
    static Segment openSealed(Path path, long baseOffset) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        return new Segment(baseOffset, path, channel, channel.size());
    }

    /** Notes a record the writer is about to write at {@code position}. Writer thread only. */
    void onRecord(long offset, long position, long ts) {
        if (position - lastIndexedPosition >= INDEX_INTERVAL_BYTES) {
            index.add(offset, position, runningMaxTs);
            lastIndexedPosition = position;
        }
        if (ts > runningMaxTs) {
            runningMaxTs = ts;
        }
    }

    /** Makes the records noted so far count for {@link #offsetAt}. Writer thread only. */
    void publishMaxTs() {
        maxTs = runningMaxTs;
    }

    /**
     * Reads the whole file, checking every record's length, checksum and offset, and indexes it. Stops at the
     * first record that is not whole and right.
     */
    Scan scan() throws IOException {
        long fileBytes = channel.size();
        RecordCursor cursor = new RecordCursor(channel, 0, 1024 * 1024);
        long expected = baseOffset;
        String problem = null;
        while (cursor.next()) {
            if (cursor.offset() != expected) {
                problem = "record at position " + cursor.position() + " has offset " + cursor.offset()
                        + " where " + expected + " was expected";
                break;
            }
            onRecord(expected, cursor.position(), cursor.ts());
            expected++;
        }
        RecordCursor.Stop stop = problem == null ? cursor.stop() : null;
        if (problem == null && stop != RecordCursor.Stop.END) {
            problem = switch (stop) {
                case TORN -> "the last record is incomplete";
                case BAD_LENGTH -> "a record has an impossible length";
                case BAD_CHECKSUM -> "a record does not match its checksum";
                case END -> null;
            };
        }
        publishMaxTs();
        return new Scan(cursor.position(), expected, fileBytes, stop, problem);
    }

    /** Scans the last segment of a log after a restart and cuts what follows its last whole record. */
    Scan recover() throws IOException {
        Scan scan = scan();
        if (!scan.complete()) {
            channel.truncate(scan.validBytes());
            channel.force(true);
        }
        size = scan.validBytes();
        indexed = true;
        return scan;
    }

    /** Indexes a sealed segment opened after a restart, the first time a reader needs it. */
    private void ensureIndexed(String stream) {
        if (indexed) {
            return;
        }
        synchronized (indexLock) {
            if (indexed) {
                return;
            }
            try {
                Scan scan = scan();
                if (!scan.complete()) {
                    throw new UncheckedIOException(new IOException("stream '" + stream + "': segment " + path
                            + " is damaged at position " + scan.validBytes() + " of " + scan.fileBytes() + ": "
                            + scan.problem()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("stream '" + stream + "': cannot read segment " + path + ": "
                        + e.getMessage(), e);
            }
            indexed = true;
        }
    }

    /** Adds the entries of offsets {@code [from, to)} to {@code out}; all of them must be in this segment. */
    void read(String stream, long from, long to, List<StreamEntry> out) {
        ensureIndexed(stream);
        SparseIndex.Start start = index.floor(from);
        try {
            RecordCursor cursor = new RecordCursor(channel, start.position());
            for (long offset = start.offset(); offset < to; offset++) {
                nextExpected(stream, cursor, offset);
                if (offset >= from) {
                    out.add(new StreamEntry(offset, cursor.message()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("stream '" + stream + "': cannot read segment " + path + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The offset of the first record below {@code to} whose time is at or after {@code epochMillis}, or -1 when
     * the segment has none.
     */
    long offsetAt(String stream, long epochMillis, long to) {
        ensureIndexed(stream);
        if (maxTs < epochMillis || index.isEmpty()) {
            return -1;
        }
        SparseIndex.Start start = index.lastOlderThan(epochMillis);
        try {
            RecordCursor cursor = new RecordCursor(channel, start.position());
            for (long offset = start.offset(); offset < to; offset++) {
                nextExpected(stream, cursor, offset);
                if (cursor.ts() >= epochMillis) {
                    return offset;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("stream '" + stream + "': cannot read segment " + path + ": "
                    + e.getMessage(), e);
        }
        return -1;
    }

    private void nextExpected(String stream, RecordCursor cursor, long offset) throws IOException {
        if (!cursor.next()) {
            throw new IOException("stream '" + stream + "': record " + offset + " at position "
                    + cursor.position() + " of " + path + " cannot be read (" + cursor.stop() + ")");
        }
        if (cursor.offset() != offset) {
            throw new IOException("stream '" + stream + "': record at position " + cursor.position() + " of "
                    + path + " has offset " + cursor.offset() + " where " + offset + " was expected");
        }
    }

    void close() throws IOException {
        channel.close();
    }

    static boolean isSegmentFile(Path path) {
        return Files.isRegularFile(path) && parseBaseOffset(path.getFileName().toString()) >= 0;
    }
}
