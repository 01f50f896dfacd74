package io.junction.media.ffmpeg;

import io.junction.media.rtmp.MediaPacket;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/** FLV, the container ffmpeg reads from and writes to Junction's pipes: the same tags RTMP carries. */
final class Flv {

    /** An FLV header for audio and video, followed by the first (zero) previous-tag size. */
    static final byte[] HEADER = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0};
    /** The FLV format's own limit: a tag size is 24 bits. */
    private static final int MAX_TAG = 0xFFFFFF;

    private Flv() {
    }

    /** One tag with its trailing previous-tag size. */
    static byte[] tag(MediaPacket p) {
        byte[] d = p.data();
        byte[] out = new byte[11 + d.length + 4];
        int ts = p.timestamp();
        out[0] = (byte) p.kind().typeId;
        out[1] = (byte) (d.length >>> 16);
        out[2] = (byte) (d.length >>> 8);
        out[3] = (byte) d.length;
        out[4] = (byte) (ts >>> 16);
        out[5] = (byte) (ts >>> 8);
        out[6] = (byte) ts;
        out[7] = (byte) (ts >>> 24);
        System.arraycopy(d, 0, out, 11, d.length);
        int prev = 11 + d.length;
        int at = 11 + d.length;
        out[at] = (byte) (prev >>> 24);
        out[at + 1] = (byte) (prev >>> 16);
        out[at + 2] = (byte) (prev >>> 8);
        out[at + 3] = (byte) prev;
        return out;
    }

    /** Reads the tags of an FLV stream (ffmpeg's standard output) one at a time. */
    static final class Reader {
        private final InputStream in;
        private final byte[] head = new byte[11];
        private boolean started;

        Reader(InputStream in) {
            this.in = in;
        }

        /** The next audio, video or metadata tag; null at the end of the stream. */
        MediaPacket next() throws IOException {
            if (!started) {
                byte[] h = new byte[9];
                if (!readFully(h)) {
                    return null;
                }
                if (h[0] != 'F' || h[1] != 'L' || h[2] != 'V') {
                    throw new IOException("ffmpeg's output is not FLV");
                }
                int offset = ((h[5] & 0xFF) << 24) | ((h[6] & 0xFF) << 16) | ((h[7] & 0xFF) << 8) | (h[8] & 0xFF);
                if (offset < 9 || offset > 1024) {
                    throw new IOException("FLV header size " + offset + " is not valid");
                }
                skip(offset - 9 + 4);
                started = true;
            }
            while (true) {
                if (!readFully(head)) {
                    return null;
                }
                int type = head[0] & 0x1F;
                int size = ((head[1] & 0xFF) << 16) | ((head[2] & 0xFF) << 8) | (head[3] & 0xFF);
                int ts = ((head[7] & 0xFF) << 24) | ((head[4] & 0xFF) << 16) | ((head[5] & 0xFF) << 8) | (head[6] & 0xFF);
                if (size > MAX_TAG) {
                    throw new IOException("FLV tag of " + size + " bytes");
                }
                byte[] body = new byte[size];
                if (!readFully(body)) {
                    return null;
                }
                skip(4);
                MediaPacket.Kind kind = MediaPacket.Kind.ofTypeId(type);
                if (kind != null) {
                    return new MediaPacket(kind, ts, body);
                }
            }
        }

        private boolean readFully(byte[] b) throws IOException {
            int n = 0;
            while (n < b.length) {
                int r = in.read(b, n, b.length - n);
                if (r < 0) {
                    if (n == 0) {
                        return false;
                    }
                    throw new EOFException("ffmpeg's output ended inside an FLV tag");
                }
                n += r;
            }
            return true;
        }

        private void skip(int n) throws IOException {
            byte[] b = new byte[n];
            if (!readFully(b)) {
                throw new EOFException("ffmpeg's output ended inside an FLV tag");
            }
        }
    }
}
