package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.RoutingKey;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The compact binary form of a message, as the log and the status snapshot store it:
 * {@code [long offset][long ts]} then {@code id, topic, key, device, kind, body}, each as an unsigned varint byte
 * length followed by its UTF-8 bytes. The body is stored as the JSON text it already is, never parsed.
 *
 * <p>An instance keeps what {@link #measure} found (the field lengths, the body's UTF-8 bytes) for the
 * {@link #encode} that follows, so the short fields are encoded straight into the caller's buffer and the only
 * allocation is the body's bytes: an instance belongs to one thread.
 */
public final class MessageCodec {

    /** The smallest payload: offset, ts and six empty strings. */
    public static final int MIN_PAYLOAD = 8 + 8 + 6;

    static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private final int[] lengths = new int[6];
    private byte[] body;

    /** The encoded size of {@code m}; call it right before {@link #encode} of the same message. */
    public int measure(Message m) {
        lengths[0] = utf8Length(m.id());
        lengths[1] = utf8Length(m.topic());
        lengths[2] = utf8Length(m.key().value());
        lengths[3] = utf8Length(m.device());
        lengths[4] = utf8Length(m.kind());
        // The body is most of a message: the JDK's vectorised encoder beats a loop over its characters.
        body = m.body().getBytes(StandardCharsets.UTF_8);
        lengths[5] = body.length;
        int size = 16;
        for (int length : lengths) {
            size += varintSize(length) + length;
        }
        return size;
    }

    /** Writes {@code m} (measured just before) with {@code offset} at {@code at}; returns the bytes written. */
    public int encode(byte[] dst, int at, long offset, Message m) {
        LONG.set(dst, at, offset);
        LONG.set(dst, at + 8, m.ts());
        int p = at + 16;
        p = putString(dst, p, m.id(), lengths[0]);
        p = putString(dst, p, m.topic(), lengths[1]);
        p = putString(dst, p, m.key().value(), lengths[2]);
        p = putString(dst, p, m.device(), lengths[3]);
        p = putString(dst, p, m.kind(), lengths[4]);
        p = putVarint(dst, p, body.length);
        System.arraycopy(body, 0, dst, p, body.length);
        p += body.length;
        body = null;
        return p - at;
    }

    public static long offset(byte[] src, int at) {
        return (long) LONG.get(src, at);
    }

    public static long ts(byte[] src, int at) {
        return (long) LONG.get(src, at + 8);
    }

    /** Decodes the message of the payload {@code src[at, at + length)}. */
    public static Message decode(byte[] src, int at, int length) {
        Reader r = new Reader(src, at + 16, at + length);
        long ts = ts(src, at);
        String id = r.string();
        String topic = r.string();
        String key = r.string();
        String device = r.string();
        String kind = r.string();
        String body = r.string();
        if (r.p != r.end) {
            throw new IllegalArgumentException("damaged record: " + (r.end - r.p) + " bytes left after the body");
        }
        return new Message(id, ts, topic, RoutingKey.of(key), device, kind, body);
    }

    private static final class Reader {
        private final byte[] src;
        private final int end;
        private int p;

        Reader(byte[] src, int p, int end) {
            this.src = src;
            this.p = p;
            this.end = end;
        }

        String string() {
            int length = 0;
            for (int shift = 0; ; shift += 7) {
                if (p >= end || shift > 28) {
                    throw new IllegalArgumentException("damaged record: bad string length");
                }
                byte b = src[p++];
                length |= (b & 0x7f) << shift;
                if (b >= 0) {
                    break;
                }
            }
            if (length < 0 || length > end - p) {
                throw new IllegalArgumentException("damaged record: a string runs past the end of the record");
            }
            String s = new String(src, p, length, StandardCharsets.UTF_8);
            p += length;
            return s;
        }
    }

    static int varintSize(int value) {
        if ((value & ~0x7f) == 0) {
            return 1;
        }
        if ((value & ~0x3fff) == 0) {
            return 2;
        }
        if ((value & ~0x1fffff) == 0) {
            return 3;
        }
        if ((value & ~0xfffffff) == 0) {
            return 4;
        }
        return 5;
    }

    private static int putString(byte[] dst, int p, String s, int utf8Length) {
        return putUtf8(dst, putVarint(dst, p, utf8Length), s);
    }

    private static int putVarint(byte[] dst, int p, int value) {
        int v = value;
        while ((v & ~0x7f) != 0) {
            dst[p++] = (byte) ((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        dst[p++] = (byte) v;
        return p;
    }

    /** The UTF-8 length of {@code s} as {@link String#getBytes} would encode it (an unpaired surrogate becomes '?'). */
    static int utf8Length(String s) {
        int n = s.length();
        int length = n;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                if (c < 0x800) {
                    length += 1;
                } else if (Character.isSurrogate(c)) {
                    if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                        length += 2;
                        i++;
                    }
                } else {
                    length += 2;
                }
            }
        }
        return length;
    }

    private static int putUtf8(byte[] dst, int p, String s) {
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                dst[p++] = (byte) c;
            } else if (c < 0x800) {
                dst[p++] = (byte) (0xc0 | (c >> 6));
                dst[p++] = (byte) (0x80 | (c & 0x3f));
            } else if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    int cp = Character.toCodePoint(c, s.charAt(++i));
                    dst[p++] = (byte) (0xf0 | (cp >> 18));
                    dst[p++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
                    dst[p++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
                    dst[p++] = (byte) (0x80 | (cp & 0x3f));
                } else {
                    dst[p++] = '?';
                }
            } else {
                dst[p++] = (byte) (0xe0 | (c >> 12));
                dst[p++] = (byte) (0x80 | ((c >> 6) & 0x3f));
                dst[p++] = (byte) (0x80 | (c & 0x3f));
            }
        }
        return p;
    }
}
