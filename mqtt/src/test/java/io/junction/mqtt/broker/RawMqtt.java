package io.junction.mqtt.broker;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A hand-written MQTT client over a plain socket, for sending what well-behaved clients never send. */
final class RawMqtt implements AutoCloseable {

    /** One packet read from the broker. */
    record Packet(int type, int flags, byte[] body) {
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    private RawMqtt(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(5_000);
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    static RawMqtt open(int port) throws IOException {
        return new RawMqtt(new Socket("127.0.0.1", port));
    }

    void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Sends CONNECT and returns the CONNACK return/reason code. */
    int connect(int level, String clientId, int keepAliveSeconds) throws IOException {
        send(connectPacket(level, clientId, keepAliveSeconds, true, null, null, null));
        Packet p = read();
        if (p.type() != 2) {
            throw new IOException("expected CONNACK, got packet type " + p.type());
        }
        return p.body()[1] & 0xFF;
    }

    Packet read() throws IOException {
        int b1 = in.readUnsignedByte();
        int length = 0;
        int multiplier = 1;
        int digit;
        do {
            digit = in.readUnsignedByte();
            length += (digit & 0x7F) * multiplier;
            multiplier *= 128;
        } while ((digit & 0x80) != 0);
        byte[] body = new byte[length];
        in.readFully(body);
        return new Packet(b1 >> 4, b1 & 0x0F, body);
    }

    /** Reads one packet, waiting at most {@code timeout} (SocketTimeoutException otherwise). */
    Packet readWithTimeout(Duration timeout) throws IOException {
        int before = socket.getSoTimeout();
        socket.setSoTimeout((int) timeout.toMillis());
        try {
            return read();
        } finally {
            socket.setSoTimeout(before);
        }
    }

    /**
     * Reads until the broker closes the socket, returning the last packet type seen before the close (for
     * example 14 for an MQTT 5 DISCONNECT), or -1 if none; fails if the socket is still open after the timeout.
     */
    int awaitClosed(Duration timeout) throws IOException {
        socket.setSoTimeout((int) timeout.toMillis());
        int last = -1;
        try {
            while (true) {
                last = read().type();
            }
        } catch (EOFException | SocketException closed) {
            return last;
        } catch (SocketTimeoutException stillOpen) {
            throw new AssertionError("the broker did not close the connection within " + timeout);
        }
    }

    /** The reason code of an MQTT 5 DISCONNECT, or of an ack with a reason code. */
    static int reasonCode(Packet p) {
        return switch (p.type()) {
            case 14 -> p.body().length == 0 ? 0 : p.body()[0] & 0xFF;
            case 4, 5 -> p.body().length > 2 ? p.body()[2] & 0xFF : 0;
            default -> throw new IllegalArgumentException("no reason code in packet type " + p.type());
        };
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    // ---- packet builders --------------------------------------------------------------------------------------

    /** CONNECT for level 4 (3.1.1) or 5, optionally with a will and credentials. */
    static byte[] connectPacket(int level, String clientId, int keepAlive, boolean clean, String willTopic,
                                byte[] willPayload, String username) {
        ByteArrayOutputStream vh = new ByteArrayOutputStream();
        writeString(vh, "MQTT");
        vh.write(level);
        int flags = clean ? 0x02 : 0;
        if (willTopic != null) {
            flags |= 0x04 | 0x08; // will, QoS 1
        }
        if (username != null) {
            flags |= 0x80;
        }
        vh.write(flags);
        vh.write(keepAlive >> 8);
        vh.write(keepAlive & 0xFF);
        if (level == 5) {
            vh.write(0); // no properties
        }
        writeString(vh, clientId);
        if (willTopic != null) {
            if (level == 5) {
                vh.write(0); // no will properties
            }
            writeString(vh, willTopic);
            writeBytes(vh, willPayload);
        }
        if (username != null) {
            writeString(vh, username);
        }
        return packet(0x10, vh.toByteArray());
    }

    /** MQTT 5 CONNECT with a session expiry and a will (QoS 1) that has a will delay. */
    static byte[] connect5WithDelayedWill(String clientId, long sessionExpiry, String willTopic, byte[] willPayload,
                                          long willDelay) {
        ByteArrayOutputStream vh = new ByteArrayOutputStream();
        writeString(vh, "MQTT");
        vh.write(5);
        vh.write(0x02 | 0x04 | 0x08);
        vh.write(0);
        vh.write(60);
        vh.write(5);
        vh.write(0x11);
        writeInt(vh, sessionExpiry);
        writeString(vh, clientId);
        vh.write(5);
        vh.write(0x18);
        writeInt(vh, willDelay);
        writeString(vh, willTopic);
        writeBytes(vh, willPayload);
        return packet(0x10, vh.toByteArray());
    }

    private static void writeInt(ByteArrayOutputStream out, long value) {
        out.write((int) (value >> 24) & 0xFF);
        out.write((int) (value >> 16) & 0xFF);
        out.write((int) (value >> 8) & 0xFF);
        out.write((int) value & 0xFF);
    }

    /** PUBLISH at QoS 0 or 1 (packet id 1 for QoS 1). */
    static byte[] publishPacket(int level, String topic, int qos, byte[] payload) {
        return publishPacket(level, topic.getBytes(StandardCharsets.UTF_8), qos, 1, payload);
    }

    /** PUBLISH with the topic given as raw bytes (which need not be UTF-8). */
    static byte[] publishPacket(int level, byte[] topic, int qos, int packetId, byte[] payload) {
        ByteArrayOutputStream vh = new ByteArrayOutputStream();
        writeBytes(vh, topic);
        if (qos > 0) {
            vh.write(packetId >> 8);
            vh.write(packetId & 0xFF);
        }
        if (level == 5) {
            vh.write(0);
        }
        vh.writeBytes(payload);
        return packet(0x30 | qos << 1, vh.toByteArray());
    }

    static byte[] pubrelPacket(int packetId) {
        return new byte[] {0x62, 2, (byte) (packetId >> 8), (byte) packetId};
    }

    static byte[] disconnectPacket() {
        return new byte[] {(byte) 0xE0, 0};
    }

    static byte[] pingPacket() {
        return new byte[] {(byte) 0xC0, 0};
    }

    private static byte[] packet(int firstByte, byte[] rest) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(firstByte);
        int length = rest.length;
        do {
            int digit = length % 128;
            length /= 128;
            p.write(length > 0 ? digit | 0x80 : digit);
        } while (length > 0);
        p.writeBytes(rest);
        return p.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream out, String s) {
        writeBytes(out, s.getBytes(StandardCharsets.UTF_8));
    }

    private static void writeBytes(ByteArrayOutputStream out, byte[] b) {
        out.write(b.length >> 8);
        out.write(b.length & 0xFF);
        out.writeBytes(b);
    }
}
