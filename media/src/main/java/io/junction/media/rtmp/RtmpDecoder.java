package io.junction.media.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The server side of the RTMP handshake and the chunk stream: answers C0/C1 with S0/S1/S2 (the plain handshake, which
 * ffmpeg, OBS and VLC accept), then reassembles chunks into {@link RtmpMessage}s. It applies the peer's chunk size
 * and abort messages itself and acknowledges received bytes whenever the peer's window is used up. Anything that
 * breaks the protocol or the configured limits raises {@link RtmpException}, which closes this connection only.
 */
final class RtmpDecoder extends ByteToMessageDecoder {

    private static final int HANDSHAKE_SIZE = 1536;
    /** More chunk streams at once than any encoder uses; bounds what a peer can make us hold. */
    private static final int MAX_CHUNK_STREAMS = 64;

    private enum State { C0C1, C2, CHUNKS }

    /** What the decoder remembers per chunk stream id, for headers that leave fields out. */
    private static final class ChunkStream {
        int timestamp;
        int delta;
        int length;
        int typeId;
        int streamId;
        boolean extended;
        byte[] partial;
        int filled;
    }

    private final int maxMessageBytes;
    private final int maxChunkSize;
    private State state = State.C0C1;
    private int chunkSize = 128;
    private final ChunkStream[] lowStreams = new ChunkStream[64];
    private java.util.Map<Integer, ChunkStream> highStreams;
    private int streamCount;
    private long received;
    private long lastAck;
    private int peerWindow = 0;
    private boolean failed;

    RtmpDecoder(int maxMessageBytes, int maxChunkSize) {
        this.maxMessageBytes = maxMessageBytes;
        this.maxChunkSize = maxChunkSize;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            // The connection is being closed for a broken rule; what is left is not read.
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            step(ctx, in, out);
        } catch (RtmpException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    private void step(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case C0C1 -> handshake(ctx, in);
            case C2 -> {
                if (in.readableBytes() >= HANDSHAKE_SIZE) {
                    in.skipBytes(HANDSHAKE_SIZE);
                    state = State.CHUNKS;
                }
            }
            case CHUNKS -> {
                // One chunk per call: ByteToMessageDecoder calls again while bytes are left and progress is made.
                int before = in.readerIndex();
                RtmpMessage m = chunk(in);
                int used = in.readerIndex() - before;
                if (used > 0) {
                    received += used;
                    if (peerWindow > 0 && received - lastAck >= peerWindow) {
                        lastAck = received;
                        ctx.writeAndFlush(Chunks.control(ctx.alloc(), RtmpMessage.ACK, (int) received));
                    }
                }
                if (m != null) {
                    out.add(m);
                }
            }
        }
    }

    private void handshake(ChannelHandlerContext ctx, ByteBuf in) {
        if (in.readableBytes() < 1) {
            return;
        }
        int version = in.getUnsignedByte(in.readerIndex());
        if (version != 3) {
            throw new RtmpException("handshake", version == 6
                    ? "asks for an encrypted RTMPE handshake (version 6), which is not supported: use RTMPS"
                    : "sent 0x" + Integer.toHexString(version) + " where the RTMP handshake starts with version 3: not an RTMP client");
        }
        if (in.readableBytes() < 1 + HANDSHAKE_SIZE) {
            return;
        }
        in.skipBytes(1);
        ByteBuf c1 = in.readSlice(HANDSHAKE_SIZE);
        ByteBuf s = ctx.alloc().buffer(1 + 2 * HANDSHAKE_SIZE);
        s.writeByte(3);
        // S1: our time, four zero bytes (so clients do not look for a digest), random bytes.
        s.writeInt((int) (System.currentTimeMillis() & 0x7FFFFFFF));
        s.writeInt(0);
        byte[] random = new byte[HANDSHAKE_SIZE - 8];
        ThreadLocalRandom.current().nextBytes(random);
        s.writeBytes(random);
        // S2: C1 echoed.
        s.writeBytes(c1);
        ctx.writeAndFlush(s);
        state = State.C2;
    }

    private ChunkStream stream(int csid, boolean create) {
        if (csid < 64) {
            ChunkStream cs = lowStreams[csid];
            if (cs == null && create) {
                cs = newStream();
                lowStreams[csid] = cs;
            }
            return cs;
        }
        if (highStreams == null) {
            if (!create) {
                return null;
            }
            highStreams = new java.util.HashMap<>();
        }
        ChunkStream cs = highStreams.get(csid);
        if (cs == null && create) {
            cs = newStream();
            highStreams.put(csid, cs);
        }
        return cs;
    }

    private ChunkStream newStream() {
        if (++streamCount > MAX_CHUNK_STREAMS) {
            throw new RtmpException("chunk_streams", "opened more than " + MAX_CHUNK_STREAMS + " chunk streams");
        }
        return new ChunkStream();
    }

    /** Reads one chunk if it is all there; returns the message it completes, if any. */
    private RtmpMessage chunk(ByteBuf in) {
        int start = in.readerIndex();
        int avail = in.readableBytes();
        if (avail < 1) {
            return null;
        }
        int b0 = in.getUnsignedByte(start);
        int fmt = b0 >>> 6;
        int csid = b0 & 0x3F;
        int pos = start + 1;
        if (csid == 0) {
            if (avail < 2) {
                return null;
            }
            csid = 64 + in.getUnsignedByte(pos);
            pos += 1;
        } else if (csid == 1) {
            if (avail < 3) {
                return null;
            }
            csid = 64 + in.getUnsignedByte(pos) + in.getUnsignedByte(pos + 1) * 256;
            pos += 2;
        }
        int headerSize = switch (fmt) {
            case 0 -> 11;
            case 1 -> 7;
            case 2 -> 3;
            default -> 0;
        };
        if (start + avail < pos + headerSize) {
            return null;
        }
        ChunkStream cs = stream(csid, fmt == 0);
        if (cs == null) {
            throw new RtmpException("chunk_header", "chunk stream " + csid + " starts with a type-" + fmt + " header, which needs an earlier full header");
        }
        int tsField = 0;
        int length = cs.length;
        int typeId = cs.typeId;
        int streamId = cs.streamId;
        if (fmt <= 2) {
            tsField = in.getUnsignedMedium(pos);
        }
        if (fmt <= 1) {
            length = in.getUnsignedMedium(pos + 3);
            typeId = in.getUnsignedByte(pos + 6);
        }
        if (fmt == 0) {
            streamId = in.getIntLE(pos + 7);
        }
        pos += headerSize;
        boolean extended = fmt <= 2 ? tsField == 0xFFFFFF : cs.extended;
        int extendedTs = 0;
        if (extended) {
            if (start + avail < pos + 4) {
                return null;
            }
            extendedTs = in.getInt(pos);
            pos += 4;
        }
        boolean newMessage = cs.partial == null;
        if (newMessage) {
            if (length > maxMessageBytes) {
                throw new RtmpException("message_size", "announced a message of " + length + " bytes (type " + typeId
                        + "); the limit is " + maxMessageBytes + " ([rtmp] max_message_bytes)");
            }
        } else if (fmt <= 1 && length != cs.length) {
            throw new RtmpException("chunk_header", "changed the length of a message on chunk stream " + csid + " before it was complete");
        }
        int filled = newMessage ? 0 : cs.filled;
        int n = Math.min(chunkSize, length - filled);
        if (start + avail < pos + n) {
            return null;
        }
        // The whole chunk is here: commit the header to the chunk stream's state.
        if (fmt <= 2) {
            int ts = extended ? extendedTs : tsField;
            if (fmt == 0) {
                cs.timestamp = ts;
            } else if (newMessage) {
                cs.timestamp += ts;
            }
            cs.delta = ts;
        } else if (newMessage) {
            cs.timestamp += cs.delta;
        }
        cs.extended = extended;
        cs.length = length;
        cs.typeId = typeId;
        cs.streamId = streamId;
        if (newMessage) {
            cs.partial = new byte[length];
            cs.filled = 0;
        }
        in.getBytes(pos, cs.partial, cs.filled, n);
        cs.filled += n;
        in.readerIndex(pos + n);
        if (cs.filled < cs.length) {
            return null;
        }
        byte[] payload = cs.partial;
        cs.partial = null;
        cs.filled = 0;
        return control(new RtmpMessage(typeId, streamId, cs.timestamp, payload));
    }

    /** Applies the protocol control messages that change how chunks are read; passes the rest on. */
    private RtmpMessage control(RtmpMessage m) {
        switch (m.typeId()) {
            case RtmpMessage.SET_CHUNK_SIZE -> {
                int size = readInt(m) & 0x7FFFFFFF;
                if (size < 1 || size > maxChunkSize) {
                    throw new RtmpException("chunk_size", "set the chunk size to " + size + "; allowed are 1 to "
                            + maxChunkSize + " ([rtmp] max_chunk_size)");
                }
                chunkSize = size;
                return null;
            }
            case RtmpMessage.ABORT -> {
                ChunkStream cs = stream(readInt(m), false);
                if (cs != null) {
                    cs.partial = null;
                    cs.filled = 0;
                }
                return null;
            }
            case RtmpMessage.WINDOW_ACK_SIZE -> {
                int w = readInt(m);
                peerWindow = w > 0 ? w : 0;
                return null;
            }
            case RtmpMessage.ACK, RtmpMessage.SET_PEER_BANDWIDTH -> {
                return null;
            }
            default -> {
                return m;
            }
        }
    }

    private static int readInt(RtmpMessage m) {
        byte[] p = m.payload();
        if (p.length < 4) {
            throw new RtmpException("control", "sent a protocol control message (type " + m.typeId() + ") shorter than 4 bytes");
        }
        return ((p[0] & 0xFF) << 24) | ((p[1] & 0xFF) << 16) | ((p[2] & 0xFF) << 8) | (p[3] & 0xFF);
    }
}
