package io.junction.media.rtmp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AMF0, the value encoding of RTMP commands and metadata. Values map to Java as: number → {@link Double}, boolean →
 * {@link Boolean}, string → {@link String}, object and ECMA array → {@link Map}, strict array → {@link List}, null
 * and undefined → {@code null}. Decoding checks every length against what is left, so garbage fails with a reason.
 */
public final class Amf0 {

    /** The value is not AMF0; the message says where and why. */
    public static final class FormatException extends Exception {
        FormatException(String message) {
            super(message);
        }
    }

    private static final int MAX_DEPTH = 32;

    private Amf0() {
    }

    /** Every value in {@code data}, in order. */
    public static List<Object> decodeAll(byte[] data) throws FormatException {
        Reader r = new Reader(data, 0);
        List<Object> out = new ArrayList<>();
        while (r.pos < data.length) {
            out.add(r.value(0));
        }
        return out;
    }

    private static final class Reader {
        final byte[] b;
        int pos;

        Reader(byte[] b, int pos) {
            this.b = b;
            this.pos = pos;
        }

        void need(int n) throws FormatException {
            if (n < 0 || pos + n > b.length) {
                throw new FormatException("AMF0 value cut short at byte " + pos + " (needs " + n + " more, " + (b.length - pos) + " left)");
            }
        }

        int u8() throws FormatException {
            need(1);
            return b[pos++] & 0xFF;
        }

        int u16() throws FormatException {
            need(2);
            int v = ((b[pos] & 0xFF) << 8) | (b[pos + 1] & 0xFF);
            pos += 2;
            return v;
        }

        long u32() throws FormatException {
            need(4);
            long v = ((long) (b[pos] & 0xFF) << 24) | ((b[pos + 1] & 0xFF) << 16) | ((b[pos + 2] & 0xFF) << 8) | (b[pos + 3] & 0xFF);
            pos += 4;
            return v;
        }

        String utf8(int len) throws FormatException {
            need(len);
            String s = new String(b, pos, len, StandardCharsets.UTF_8);
            pos += len;
            return s;
        }

        Object value(int depth) throws FormatException {
            if (depth > MAX_DEPTH) {
                throw new FormatException("AMF0 values nested deeper than " + MAX_DEPTH);
            }
            int marker = u8();
            switch (marker) {
                case 0x00 -> {
                    need(8);
                    long bits = 0;
                    for (int i = 0; i < 8; i++) {
                        bits = (bits << 8) | (b[pos + i] & 0xFF);
                    }
                    pos += 8;
                    return Double.longBitsToDouble(bits);
                }
                case 0x01 -> {
                    return u8() != 0;
                }
                case 0x02 -> {
                    return utf8(u16());
                }
                case 0x03 -> {
                    return properties(new LinkedHashMap<>(), depth);
                }
                case 0x05, 0x06 -> {
                    return null;
                }
                case 0x08 -> {
                    u32();   // the count is a hint only; the end marker ends the array
                    return properties(new LinkedHashMap<>(), depth);
                }
                case 0x0A -> {
                    long n = u32();
                    if (n > b.length - pos) {
                        throw new FormatException("AMF0 strict array claims " + n + " items in " + (b.length - pos) + " bytes");
                    }
                    List<Object> list = new ArrayList<>((int) n);
                    for (int i = 0; i < n; i++) {
                        list.add(value(depth + 1));
                    }
                    return list;
                }
                case 0x0B -> {
                    need(10);   // milliseconds as a double, then a time zone nobody uses
                    long bits = 0;
                    for (int i = 0; i < 8; i++) {
                        bits = (bits << 8) | (b[pos + i] & 0xFF);
                    }
                    pos += 10;
                    return Double.longBitsToDouble(bits);
                }
                case 0x0C -> {
                    long len = u32();
                    if (len > Integer.MAX_VALUE) {
                        throw new FormatException("AMF0 long string of " + len + " bytes");
                    }
                    return utf8((int) len);
                }
                default -> throw new FormatException("unknown AMF0 type marker 0x" + Integer.toHexString(marker) + " at byte " + (pos - 1));
            }
        }

        Map<String, Object> properties(Map<String, Object> into, int depth) throws FormatException {
            while (true) {
                int len = u16();
                if (len == 0) {
                    int end = u8();
                    if (end != 0x09) {
                        throw new FormatException("AMF0 object property with an empty name not followed by the end marker");
                    }
                    return into;
                }
                String key = utf8(len);
                into.put(key, value(depth + 1));
            }
        }
    }

    /** Writes AMF0 values into a growing byte array. */
    public static final class Writer {
        private byte[] buf = new byte[256];
        private int len;

        private void ensure(int n) {
            if (len + n > buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
            }
        }

        private void u8(int v) {
            ensure(1);
            buf[len++] = (byte) v;
        }

        private void u16(int v) {
            ensure(2);
            buf[len++] = (byte) (v >>> 8);
            buf[len++] = (byte) v;
        }

        private void u32(long v) {
            ensure(4);
            buf[len++] = (byte) (v >>> 24);
            buf[len++] = (byte) (v >>> 16);
            buf[len++] = (byte) (v >>> 8);
            buf[len++] = (byte) v;
        }

        private void raw(byte[] bytes) {
            ensure(bytes.length);
            System.arraycopy(bytes, 0, buf, len, bytes.length);
            len += bytes.length;
        }

        public Writer value(Object v) {
            switch (v) {
                case null -> u8(0x05);
                case Number n -> {
                    u8(0x00);
                    long bits = Double.doubleToLongBits(n.doubleValue());
                    u32(bits >>> 32);
                    u32(bits & 0xFFFFFFFFL);
                }
                case Boolean bool -> {
                    u8(0x01);
                    u8(bool ? 1 : 0);
                }
                case String s -> {
                    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                    if (bytes.length > 0xFFFF) {
                        u8(0x0C);
                        u32(bytes.length);
                    } else {
                        u8(0x02);
                        u16(bytes.length);
                    }
                    raw(bytes);
                }
                case Map<?, ?> map -> {
                    u8(0x03);
                    for (Map.Entry<?, ?> e : map.entrySet()) {
                        byte[] key = String.valueOf(e.getKey()).getBytes(StandardCharsets.UTF_8);
                        u16(key.length);
                        raw(key);
                        value(e.getValue());
                    }
                    u16(0);
                    u8(0x09);
                }
                case List<?> list -> {
                    u8(0x0A);
                    u32(list.size());
                    for (Object o : list) {
                        value(o);
                    }
                }
                default -> throw new IllegalArgumentException("no AMF0 encoding for " + v.getClass().getName());
            }
            return this;
        }

        /** An ECMA array (what onMetaData carries). */
        public Writer ecmaArray(Map<String, ?> map) {
            u8(0x08);
            u32(map.size());
            for (Map.Entry<String, ?> e : map.entrySet()) {
                byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
                u16(key.length);
                raw(key);
                value(e.getValue());
            }
            u16(0);
            u8(0x09);
            return this;
        }

        public byte[] toBytes() {
            return java.util.Arrays.copyOf(buf, len);
        }
    }

    public static byte[] encode(Object... values) {
        Writer w = new Writer();
        for (Object v : values) {
            w.value(v);
        }
        return w.toBytes();
    }
}
