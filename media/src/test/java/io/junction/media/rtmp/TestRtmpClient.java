package io.junction.media.rtmp;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A small blocking RTMP client for tests: the handshake, chunked sends with any chunk size, and a reader that
 * reassembles the server's chunks into messages. It is written from the specification, not from the server's code.
 */
final class TestRtmpClient implements AutoCloseable {

    record Msg(int typeId, int streamId, int timestamp, byte[] payload) {
        List<Object> amf() {
            try {
                return Amf0.decodeAll(typeId == 17 || typeId == 15 ? java.util.Arrays.copyOfRange(payload, 1, payload.length) : payload);
            } catch (Amf0.FormatException e) {
                throw new AssertionError(e);
            }
        }
    }

    private final Socket socket;
    private final OutputStream out;
    private final DataInputStream in;
    private int sendChunkSize = 128;
    private int readChunkSize = 128;
    private final Map<Integer, int[]> headers = new HashMap<>();   // csid → {ts, len, type, msid, delta}
    private final Map<Integer, byte[]> partial = new HashMap<>();
    private final Map<Integer, Integer> filled = new HashMap<>();

    TestRtmpClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(5_000);
        out = socket.getOutputStream();
        in = new DataInputStream(socket.getInputStream());
    }

    void handshake() throws IOException {
        byte[] c0c1 = new byte[1537];
        c0c1[0] = 3;
        out.write(c0c1);
        out.flush();
        byte[] s = new byte[1 + 1536 * 2];
        in.readFully(s);
        if (s[0] != 3) {
            throw new IOException("server answered version " + s[0]);
        }
        out.write(java.util.Arrays.copyOfRange(s, 1, 1537));
        out.flush();
    }

    void raw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    void send(int csid, int typeId, int streamId, int timestamp, byte[] payload) throws IOException {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write(csid);
        b.write(timestamp >>> 16);
        b.write(timestamp >>> 8);
        b.write(timestamp);
        b.write(payload.length >>> 16);
        b.write(payload.length >>> 8);
        b.write(payload.length);
        b.write(typeId);
        b.write(streamId);
        b.write(streamId >>> 8);
        b.write(streamId >>> 16);
        b.write(streamId >>> 24);
        int pos = 0;
        while (true) {
            int n = Math.min(sendChunkSize, payload.length - pos);
            b.write(payload, pos, n);
            pos += n;
            if (pos >= payload.length) {
                break;
            }
            b.write(0xC0 | csid);
        }
        raw(b.toByteArray());
    }

    void setChunkSize(int size) throws IOException {
        send(2, 1, 0, 0, new byte[]{(byte) (size >>> 24), (byte) (size >>> 16), (byte) (size >>> 8), (byte) size});
        sendChunkSize = size;
    }

    void command(int streamId, Object... values) throws IOException {
        send(3, 20, streamId, 0, Amf0.encode(values));
    }

    /** connect + createStream; returns the stream id. */
    int connect(String app) throws IOException {
        command(0, "connect", 1.0, Map.of("app", app, "tcUrl", "rtmp://127.0.0.1/" + app));
        expectCommand("_result");
        command(0, "createStream", 2.0, null);
        Msg r = expectCommand("_result");
        return ((Double) r.amf().get(3)).intValue();
    }

    /** Reads until a command named {@code name} arrives (or fails after the socket timeout). */
    Msg expectCommand(String name) throws IOException {
        while (true) {
            Msg m = read();
            if (m == null) {
                throw new IOException("connection closed while waiting for " + name);
            }
            if ((m.typeId == 20 || m.typeId == 17) && name.equals(m.amf().getFirst())) {
                return m;
            }
        }
    }

    /** The next onStatus's info object. */
    @SuppressWarnings("unchecked")
    Map<String, Object> expectStatus() throws IOException {
        Msg m = expectCommand("onStatus");
        return (Map<String, Object>) m.amf().get(3);
    }

    /** The next message, or null when the server closed the connection. */
    Msg read() throws IOException {
        while (true) {
            int b0 = in.read();
            if (b0 < 0) {
                return null;
            }
            int fmt = b0 >>> 6;
            int csid = b0 & 0x3F;
            if (csid == 0) {
                csid = 64 + in.readUnsignedByte();
            } else if (csid == 1) {
                csid = 64 + in.readUnsignedByte() + in.readUnsignedByte() * 256;
            }
            int[] h = headers.computeIfAbsent(csid, k -> new int[5]);
            int ts = 0;
            if (fmt <= 2) {
                ts = read24();
            }
            if (fmt <= 1) {
                h[1] = read24();
                h[2] = in.readUnsignedByte();
            }
            if (fmt == 0) {
                h[3] = Integer.reverseBytes(in.readInt());
            }
            if (fmt <= 2 && ts == 0xFFFFFF) {
                ts = in.readInt();
            }
            boolean fresh = !partial.containsKey(csid);
            if (fmt == 0) {
                h[0] = ts;
            } else if (fmt <= 2 && fresh) {
                h[0] += ts;
                h[4] = ts;
            } else if (fmt == 3 && fresh) {
                h[0] += h[4];
            }
            byte[] buf = partial.computeIfAbsent(csid, k -> new byte[h[1]]);
            int at = filled.getOrDefault(csid, 0);
            int n = Math.min(readChunkSize, h[1] - at);
            in.readFully(buf, at, n);
            at += n;
            if (at < h[1]) {
                filled.put(csid, at);
                continue;
            }
            partial.remove(csid);
            filled.remove(csid);
            Msg m = new Msg(h[2], h[3], h[0], buf);
            if (m.typeId == 1) {
                readChunkSize = ((buf[0] & 0x7F) << 24) | ((buf[1] & 0xFF) << 16) | ((buf[2] & 0xFF) << 8) | (buf[3] & 0xFF);
            }
            return m;
        }
    }

    /** True when the server closes the connection within the socket timeout. */
    boolean closedByServer() throws IOException {
        try {
            while (true) {
                if (read() == null) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private int read24() throws IOException {
        return (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
