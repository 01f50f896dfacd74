package io.junction.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The bench payload: a JSON object {@code {"t":<nanoTime>,"r":<run>,"d":<device>,"s":<seq>,"p":"xx..."}} padded with
 * 'x' to the requested size. {@code t} is the publisher's {@link System#nanoTime()} (the subscriber lives in the same
 * JVM, so it can compute the latency), {@code r} tells bench passes apart, {@code (d, s)} is unique per message.
 * <p>
 * An instance is a reusable, single-threaded parse result.
 */
public final class Payload {

    public long t;
    public int run;
    public int device;
    public long seq;

    private final long[] scratch = new long[1];

    private static final byte[] T = "{\"t\":".getBytes();
    private static final byte[] R = ",\"r\":".getBytes();
    private static final byte[] D = ",\"d\":".getBytes();
    private static final byte[] S = ",\"s\":".getBytes();
    private static final byte[] P = ",\"p\":\"".getBytes();
    private static final byte[] END = "\"}".getBytes();

    /** Writes a payload of (at least) {@code size} bytes; exactly {@code size} when the fields fit. */
    public static ByteBuf write(ByteBufAllocator alloc, int size, long t, int run, int device, long seq) {
        ByteBuf b = alloc.buffer(Math.max(size, 80));
        b.writeBytes(T);
        writeLong(b, t);
        b.writeBytes(R);
        writeLong(b, run);
        b.writeBytes(D);
        writeLong(b, device);
        b.writeBytes(S);
        writeLong(b, seq);
        b.writeBytes(P);
        int pad = size - b.readableBytes() - END.length;
        for (int i = 0; i < pad; i++) {
            b.writeByte('x');
        }
        b.writeBytes(END);
        return b;
    }

    /** The same payload as a string (for tests and tools). */
    public static String toJson(int size, long t, int run, int device, long seq) {
        ByteBuf b = write(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT, size, t, run, device, seq);
        try {
            return b.toString(java.nio.charset.StandardCharsets.US_ASCII);
        } finally {
            b.release();
        }
    }

    private static final byte[] MIN = Long.toString(Long.MIN_VALUE).getBytes();

    static void writeLong(ByteBuf b, long v) {
        if (v == Long.MIN_VALUE) {
            b.writeBytes(MIN);
            return;
        }
        if (v < 0) {
            b.writeByte('-');
            v = -v;
        }
        if (v == 0) {
            b.writeByte('0');
            return;
        }
        int digits = 0;
        long x = v;
        while (x > 0) {
            digits++;
            x /= 10;
        }
        int start = b.writerIndex();
        b.writerIndex(start + digits);
        for (int i = start + digits - 1; i >= start; i--) {
            b.setByte(i, (int) ('0' + v % 10));
            v /= 10;
        }
    }

    /** Reads the fields from an MQTT payload; false when it is not a bench payload. */
    public boolean parse(ByteBuf b) {
        return parse(b::getByte, b.readerIndex(), b.writerIndex());
    }

    /**
     * Reads the fields from text such as a WebSocket frame, starting at {@code from} (e.g. where the frame's
     * {@code "body"} begins); false when they are not all there.
     */
    public boolean parse(CharSequence s, int from) {
        return parse(s::charAt, from, s.length());
    }

    /** The characters of a payload, as bytes of a buffer or chars of a text, so that one parser reads both. */
    @FunctionalInterface
    private interface Chars {
        int at(int index);
    }

    private boolean parse(Chars in, int from, int to) {
        long[] out = scratch;
        int i = field(in, from, to, 't', out);
        if (i < 0) {
            return false;
        }
        t = out[0];
        i = field(in, i, to, 'r', out);
        if (i < 0) {
            return false;
        }
        run = (int) out[0];
        i = field(in, i, to, 'd', out);
        if (i < 0) {
            return false;
        }
        device = (int) out[0];
        i = field(in, i, to, 's', out);
        if (i < 0) {
            return false;
        }
        seq = out[0];
        return true;
    }

    private static int field(Chars in, int from, int to, char name, long[] out) {
        for (int i = from; i + 3 < to; i++) {
            if (in.at(i) == '"' && in.at(i + 1) == name && in.at(i + 2) == '"') {
                int j = i + 3;
                while (j < to && isSpace(in.at(j))) {
                    j++;
                }
                if (j >= to || in.at(j) != ':') {
                    continue;
                }
                j++;
                while (j < to && isSpace(in.at(j))) {
                    j++;
                }
                boolean neg = false;
                if (j < to && in.at(j) == '-') {
                    neg = true;
                    j++;
                }
                long v = 0;
                int digits = 0;
                while (j < to) {
                    int c = in.at(j);
                    if (c < '0' || c > '9') {
                        break;
                    }
                    v = v * 10 + (c - '0');
                    digits++;
                    j++;
                }
                if (digits == 0) {
                    return -1;
                }
                out[0] = neg ? -v : v;
                return j;
            }
        }
        return -1;
    }

    private static boolean isSpace(int c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }
}
