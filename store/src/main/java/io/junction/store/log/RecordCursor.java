package io.junction.store.log;

import io.junction.core.Message;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * Walks the records of a segment file forward from a position with positional reads of its own, so any number of
 * readers work next to the writer. A record is {@code [int payload length][int CRC32C of the payload][payload]};
 * {@link #next} accepts only whole records whose length and checksum are right.
 */
final class RecordCursor {

    static final int HEADER = 8;
    /** Larger than any message the server accepts; a length above it means damage. */
    static final int MAX_PAYLOAD = 256 * 1024 * 1024;
    private static final int CHUNK = 64 * 1024;

    /** Why {@link #next} returned false. */
    enum Stop {
        /** No bytes left: a clean end. */
        END,
        /** Fewer bytes left than the record header says: a write that did not finish. */
        TORN,
        /** A length that no record can have. */
        BAD_LENGTH,
        /** The payload does not match its checksum. */
        BAD_CHECKSUM
    }

    private final FileChannel channel;
    private final CRC32C crc = new CRC32C();
    private byte[] buf;
    private ByteBuffer view;
    private long bufPosition;
    private int bufLength;
    private long position;
    private long nextPosition;
    private int payloadAt;
    private int payloadLength;
    private Stop stop;

    RecordCursor(FileChannel channel, long startPosition) {
        this(channel, startPosition, CHUNK);
    }

    RecordCursor(FileChannel channel, long startPosition, int chunk) {
        this.channel = channel;
        this.buf = new byte[chunk];
        this.view = ByteBuffer.wrap(buf);
        this.nextPosition = startPosition;
    }

    /** Moves to the next record; false at the end of the file or at a record that is not whole and intact. */
    boolean next() throws IOException {
        position = nextPosition;
        if (!ensure(HEADER)) {
            stop = available() == 0 ? Stop.END : Stop.TORN;
            return false;
        }
        int at = (int) (position - bufPosition);
        int length = (int) MessageCodec.INT.get(buf, at);
        int expectedCrc = (int) MessageCodec.INT.get(buf, at + 4);
        if (length < MessageCodec.MIN_PAYLOAD || length > MAX_PAYLOAD) {
            stop = length == 0 ? Stop.TORN : Stop.BAD_LENGTH;
            return false;
        }
        if (!ensure(HEADER + length)) {
            stop = Stop.TORN;
            return false;
        }
        at = (int) (position - bufPosition);
        crc.reset();
        crc.update(buf, at + HEADER, length);
        if ((int) crc.getValue() != expectedCrc) {
            stop = Stop.BAD_CHECKSUM;
            return false;
        }
        payloadAt = at + HEADER;
        payloadLength = length;
        nextPosition = position + HEADER + length;
        return true;
    }

    /** Why the last {@link #next} returned false. */
    Stop stop() {
        return stop;
    }

    /** The file position of the current record (or of the bytes {@link #next} rejected). */
    long position() {
        return position;
    }

    /** The file position after the current record. */
    long nextPosition() {
        return nextPosition;
    }

    long offset() {
        return MessageCodec.offset(buf, payloadAt);
    }

    long ts() {
        return MessageCodec.ts(buf, payloadAt);
    }

    Message message() {
        return MessageCodec.decode(buf, payloadAt, payloadLength);
    }

    private long available() {
        return bufPosition + bufLength - position;
    }

    /** Makes {@code n} bytes from {@link #position} available in the buffer; false when the file has fewer. */
    private boolean ensure(int n) throws IOException {
        if (position >= bufPosition && available() >= n) {
            return true;
        }
        if (n > buf.length) {
            buf = new byte[Math.max(n, buf.length * 2)];
            view = ByteBuffer.wrap(buf);
        }
        bufPosition = position;
        bufLength = 0;
        view.clear();
        while (view.hasRemaining()) {
            int read = channel.read(view, bufPosition + view.position());
            if (read <= 0) {
                break;
            }
        }
        bufLength = view.position();
        return bufLength >= n;
    }
}
