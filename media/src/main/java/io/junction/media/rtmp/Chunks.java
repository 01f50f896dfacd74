package io.junction.media.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Writes RTMP messages as chunks: a type-0 header on the first chunk (absolute timestamp, so any chunk can be the
 * first a player sees) and type-3 headers on the rest, with the extended timestamp repeated as ffmpeg expects.
 */
final class Chunks {

    static final int CSID_CONTROL = 2;
    static final int CSID_COMMAND = 3;
    static final int CSID_AUDIO = 4;
    static final int CSID_DATA = 5;
    static final int CSID_VIDEO = 6;

    private Chunks() {
    }

    static int csidFor(MediaPacket.Kind kind) {
        return switch (kind) {
            case AUDIO -> CSID_AUDIO;
            case VIDEO -> CSID_VIDEO;
            case METADATA -> CSID_DATA;
        };
    }

    /** Encodes one message into a new buffer. */
    static ByteBuf encode(ByteBufAllocator alloc, int csid, int streamId, int typeId, int timestamp, byte[] payload, int chunkSize) {
        int chunks = Math.max(1, (payload.length + chunkSize - 1) / chunkSize);
        boolean extended = (timestamp & 0xFFFFFFFFL) >= 0xFFFFFF;
        int size = 12 + (extended ? 4 : 0) + payload.length + (chunks - 1) * (1 + (extended ? 4 : 0));
        ByteBuf out = alloc.buffer(size);
        out.writeByte(csid & 0x3F);
        out.writeMedium(extended ? 0xFFFFFF : timestamp);
        out.writeMedium(payload.length);
        out.writeByte(typeId);
        out.writeIntLE(streamId);
        if (extended) {
            out.writeInt(timestamp);
        }
        int written = 0;
        while (true) {
            int n = Math.min(chunkSize, payload.length - written);
            out.writeBytes(payload, written, n);
            written += n;
            if (written >= payload.length) {
                break;
            }
            out.writeByte(0xC0 | (csid & 0x3F));
            if (extended) {
                out.writeInt(timestamp);
            }
        }
        return out;
    }

    static ByteBuf control(ByteBufAllocator alloc, int typeId, int value) {
        byte[] p = {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
        return encode(alloc, CSID_CONTROL, 0, typeId, 0, p, 128);
    }

    static ByteBuf peerBandwidth(ByteBufAllocator alloc, int window) {
        byte[] p = {(byte) (window >>> 24), (byte) (window >>> 16), (byte) (window >>> 8), (byte) window, 2};
        return encode(alloc, CSID_CONTROL, 0, RtmpMessage.SET_PEER_BANDWIDTH, 0, p, 128);
    }

    /** A user control event with one 32-bit argument (stream begin, stream EOF, ping response, ...). */
    static ByteBuf userControl(ByteBufAllocator alloc, int event, int value) {
        byte[] p = {(byte) (event >>> 8), (byte) event, (byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
        return encode(alloc, CSID_CONTROL, 0, RtmpMessage.USER_CONTROL, 0, p, 128);
    }
}
