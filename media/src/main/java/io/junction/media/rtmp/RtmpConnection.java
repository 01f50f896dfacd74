package io.junction.media.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * One RTMP client: the NetConnection and NetStream commands ({@code connect}, {@code releaseStream},
 * {@code FCPublish}, {@code createStream}, {@code publish}, {@code play}, {@code deleteStream}, ...) and the
 * media of a publisher. Everything here runs on the connection's event loop.
 */
final class RtmpConnection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(RtmpConnection.class);
    /** App names and stream keys become workflow stream names and HLS folder names: keep them plain. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern APP = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}){0,3}");
    private static final int MAX_STREAMS = 16;

    private final RtmpServer server;
    private Channel channel;
    private String remote = "?";
    private String app;
    private int nextStreamId = 1;
    /** Publishing message streams: stream id → its sink (null while the gate decides). */
    private final Map<Integer, Publishing> publishing = new HashMap<>();
    private final Map<Integer, RtmpPlayer> playing = new HashMap<>();

    private static final class Publishing {
        final String key;
        MediaSink sink;
        boolean ended;

        Publishing(String key) {
            this.key = key;
        }
    }

    RtmpConnection(RtmpServer server) {
        this.server = server;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        remote = String.valueOf(channel.remoteAddress()).replaceFirst("^/", "");
        server.connections.incrementAndGet();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        server.connections.decrementAndGet();
        for (Publishing p : publishing.values()) {
            endPublish(p);
        }
        publishing.clear();
        for (RtmpPlayer p : playing.values()) {
            p.close();
            server.players.decrementAndGet();
        }
        playing.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof RtmpException e) {
            server.rejected(e.reason);
            log.warn("rtmp connection from {} closed: it {}", remote, e.getMessage());
        } else if (c instanceof IOException) {
            log.debug("rtmp connection from {} failed: {}", remote, c.toString());
        } else {
            server.rejected("error");
            log.warn("rtmp connection from {} closed after an error: {}", remote, c.toString(), c);
        }
        ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        RtmpMessage m = (RtmpMessage) msg;
        switch (m.typeId()) {
            case RtmpMessage.AUDIO, RtmpMessage.VIDEO -> media(m.streamId(), MediaPacket.Kind.ofTypeId(m.typeId()), m.timestamp(), m.payload());
            case RtmpMessage.DATA_AMF0 -> data(m, m.payload());
            case RtmpMessage.DATA_AMF3 -> data(m, skipFirst(m.payload()));
            case RtmpMessage.COMMAND_AMF0 -> command(m.streamId(), m.payload());
            case RtmpMessage.COMMAND_AMF3 -> command(m.streamId(), skipFirst(m.payload()));
            case RtmpMessage.USER_CONTROL -> userControl(m.payload());
            case RtmpMessage.AGGREGATE -> aggregate(m);
            default -> log.debug("rtmp {}: ignoring message type {}", remote, m.typeId());
        }
    }

    private static byte[] skipFirst(byte[] p) {
        return p.length == 0 ? p : java.util.Arrays.copyOfRange(p, 1, p.length);
    }

    private void userControl(byte[] p) {
        if (p.length >= 6 && ((p[0] << 8) | (p[1] & 0xFF)) == 6) {
            int ts = ((p[2] & 0xFF) << 24) | ((p[3] & 0xFF) << 16) | ((p[4] & 0xFF) << 8) | (p[5] & 0xFF);
            channel.writeAndFlush(Chunks.userControl(channel.alloc(), 7, ts));
        }
    }

    /** An aggregate message is FLV tags back to back; their timestamps are relative to the first one's. */
    private void aggregate(RtmpMessage m) {
        byte[] p = m.payload();
        int pos = 0;
        int base = -1;
        while (pos + 11 <= p.length) {
            int type = p[pos] & 0x1F;
            int size = ((p[pos + 1] & 0xFF) << 16) | ((p[pos + 2] & 0xFF) << 8) | (p[pos + 3] & 0xFF);
            int ts = ((p[pos + 7] & 0xFF) << 24) | ((p[pos + 4] & 0xFF) << 16) | ((p[pos + 5] & 0xFF) << 8) | (p[pos + 6] & 0xFF);
            if (pos + 11 + size + 4 > p.length) {
                throw new RtmpException("aggregate", "sent an aggregate message whose sub-message overruns it");
            }
            if (base < 0) {
                base = ts;
            }
            byte[] body = java.util.Arrays.copyOfRange(p, pos + 11, pos + 11 + size);
            MediaPacket.Kind kind = MediaPacket.Kind.ofTypeId(type);
            if (kind == MediaPacket.Kind.METADATA) {
                data(new RtmpMessage(type, m.streamId(), m.timestamp() + ts - base, body), body);
            } else if (kind != null) {
                media(m.streamId(), kind, m.timestamp() + ts - base, body);
            }
            pos += 11 + size + 4;
        }
    }

    private void media(int streamId, MediaPacket.Kind kind, int timestamp, byte[] data) {
        Publishing p = publishing.get(streamId);
        if (p == null || p.sink == null || p.ended) {
            return;
        }
        server.mediaIn(data.length);
        p.sink.media(new MediaPacket(kind, timestamp, data));
    }

    private void data(RtmpMessage m, byte[] payload) {
        Publishing p = publishing.get(m.streamId());
        if (p == null || p.sink == null || p.ended) {
            return;
        }
        List<Object> values;
        try {
            values = Amf0.decodeAll(payload);
        } catch (Amf0.FormatException e) {
            throw new RtmpException("amf", "sent a data message that is not AMF0: " + e.getMessage());
        }
        if (values.isEmpty() || !(values.getFirst() instanceof String name)) {
            return;
        }
        if (name.equals("@setDataFrame")) {
            values = values.subList(1, values.size());
            if (values.isEmpty() || !(values.getFirst() instanceof String)) {
                return;
            }
            name = (String) values.getFirst();
        }
        if (!name.equals("onMetaData") || values.size() < 2 || !(values.get(1) instanceof Map<?, ?> meta)) {
            return;
        }
        Map<String, Object> clean = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : meta.entrySet()) {
            clean.put(String.valueOf(e.getKey()), e.getValue());
        }
        byte[] body = new Amf0.Writer().value("onMetaData").ecmaArray(clean).toBytes();
        p.sink.media(new MediaPacket(MediaPacket.Kind.METADATA, m.timestamp(), body));
    }

    private void command(int streamId, byte[] payload) {
        List<Object> v;
        try {
            v = Amf0.decodeAll(payload);
        } catch (Amf0.FormatException e) {
            throw new RtmpException("amf", "sent a command that is not AMF0: " + e.getMessage());
        }
        if (v.size() < 2 || !(v.get(0) instanceof String name) || !(v.get(1) instanceof Double txn)) {
            throw new RtmpException("command", "sent a command without a name and a transaction id");
        }
        switch (name) {
            case "connect" -> connect(txn, v.size() > 2 ? v.get(2) : null);
            case "createStream" -> createStream(txn);
            case "releaseStream", "FCPublish", "FCSubscribe" -> result(txn, null);
            case "getStreamLength" -> result(txn, 0.0);
            case "publish" -> publish(streamId, arg(v, 3));
            case "play" -> play(streamId, arg(v, 3));
            case "deleteStream" -> closeStream(v.size() > 3 && v.get(3) instanceof Double d ? d.intValue() : streamId);
            case "closeStream" -> closeStream(streamId);
            case "FCUnpublish" -> {
                String key = arg(v, 3);
                publishing.entrySet().removeIf(e -> {
                    if (key != null && stripQuery(key).equals(e.getValue().key)) {
                        endPublish(e.getValue());
                        return true;
                    }
                    return false;
                });
                result(txn, null);
            }
            default -> log.debug("rtmp {}: ignoring command {}", remote, name);
        }
    }

    private static String arg(List<Object> v, int i) {
        return v.size() > i && v.get(i) instanceof String s ? s : null;
    }

    private static String stripQuery(String s) {
        int q = s.indexOf('?');
        return q >= 0 ? s.substring(0, q) : s;
    }

    private void connect(double txn, Object commandObject) {
        if (app != null) {
            throw new RtmpException("command", "sent connect twice");
        }
        String a = commandObject instanceof Map<?, ?> m && m.get("app") instanceof String s ? stripQuery(s) : null;
        if (a != null && a.endsWith("/")) {
            a = a.substring(0, a.length() - 1);
        }
        if (a == null || !APP.matcher(a).matches()) {
            sendCommand(0, "_error", txn, null, status("error", "NetConnection.Connect.Rejected",
                    "the application name must be letters, digits, '_', '.', '-' (and '/' between parts), got " + a));
            channel.flush();
            channel.close();
            return;
        }
        app = a;
        int chunkSize = server.settings.chunkSize();
        channel.write(Chunks.control(channel.alloc(), RtmpMessage.WINDOW_ACK_SIZE, server.settings.windowAckSize()));
        channel.write(Chunks.peerBandwidth(channel.alloc(), server.settings.windowAckSize()));
        channel.write(Chunks.control(channel.alloc(), RtmpMessage.SET_CHUNK_SIZE, chunkSize));
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("fmsVer", "FMS/3,0,1,123");
        props.put("capabilities", 31.0);
        Map<String, Object> info = status("status", "NetConnection.Connect.Success", "Connection succeeded.");
        info.put("objectEncoding", 0.0);
        sendCommand(0, "_result", txn, props, info);
        channel.flush();
    }

    private void createStream(double txn) {
        requireConnected();
        if (nextStreamId > MAX_STREAMS) {
            throw new RtmpException("command", "created more than " + MAX_STREAMS + " streams on one connection");
        }
        result(txn, (double) nextStreamId++);
    }

    private void requireConnected() {
        if (app == null) {
            throw new RtmpException("command", "sent a stream command before connect");
        }
    }

    private void publish(int streamId, String rawKey) {
        requireConnected();
        String key = rawKey == null ? null : stripQuery(rawKey);
        if (key == null || !NAME.matcher(key).matches()) {
            refusePublish(streamId, "the stream key must be 1 to 128 letters, digits, '_', '.' or '-', got " + (key == null ? "none" : "'" + key + "'"));
            return;
        }
        if (publishing.containsKey(streamId) || playing.containsKey(streamId)) {
            refusePublish(streamId, "stream " + streamId + " is already in use on this connection");
            return;
        }
        Publishing p = new Publishing(key);
        publishing.put(streamId, p);
        String where = app + "/" + key;
        Channel ch = channel;
        CompletableFuture<MediaSink> answer;
        try {
            answer = server.gate.publish(app, key, remote, () -> ch.eventLoop().execute(() -> {
                log.info("rtmp publisher {} of {} disconnected: no workflow takes the stream any more", remote, where);
                closeWith(ch, streamId, "NetStream.Publish.Stop", "no workflow takes this stream any more");
            }));
        } catch (RuntimeException e) {
            answer = CompletableFuture.failedFuture(e);
        }
        answer.whenComplete((sink, error) -> ch.eventLoop().execute(() -> {
            if (error != null) {
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
                publishing.remove(streamId, p);
                String reason = cause instanceof RtmpGate.Refused ? cause.getMessage() : "the server could not decide: " + cause;
                log.info("rtmp publish of {} from {} refused: {}", where, remote, reason);
                server.refused();
                refusePublish(streamId, reason);
                return;
            }
            if (!ch.isActive() || publishing.get(streamId) != p) {
                sink.end();
                return;
            }
            p.sink = sink;
            server.publishers.incrementAndGet();
            log.info("rtmp publish of {} from {} accepted", where, remote);
            ch.write(Chunks.userControl(ch.alloc(), 0, streamId));
            onStatus(ch, streamId, "status", "NetStream.Publish.Start", where + " is now published.");
        }));
    }

    private void refusePublish(int streamId, String reason) {
        Channel ch = channel;
        Map<String, Object> info = status("error", "NetStream.Publish.BadName", reason);
        ch.writeAndFlush(Chunks.encode(ch.alloc(), Chunks.CSID_COMMAND, streamId, RtmpMessage.COMMAND_AMF0, 0,
                Amf0.encode("onStatus", 0.0, null, info), server.settings.chunkSize()))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private void play(int streamId, String rawKey) {
        requireConnected();
        String key = rawKey == null ? null : stripQuery(rawKey);
        if (key == null || !NAME.matcher(key).matches()) {
            onStatus(channel, streamId, "error", "NetStream.Play.StreamNotFound", "the stream name must be 1 to 128 letters, digits, '_', '.' or '-'");
            return;
        }
        if (publishing.containsKey(streamId) || playing.containsKey(streamId)) {
            onStatus(channel, streamId, "error", "NetStream.Play.Failed", "stream " + streamId + " is already in use on this connection");
            return;
        }
        RtmpPlayer player = new RtmpPlayer(channel, streamId, server.settings.chunkSize(), remote + " playing " + app + "/" + key, server::skipped);
        // The play replies go out before the gate attaches the player: its catch-up is queued behind them.
        channel.write(Chunks.userControl(channel.alloc(), 4, streamId));
        channel.write(Chunks.userControl(channel.alloc(), 0, streamId));
        onStatus(channel, streamId, "status", "NetStream.Play.Reset", "Playing and resetting " + key + ".");
        onStatus(channel, streamId, "status", "NetStream.Play.Start", "Started playing " + key + ".");
        channel.write(Chunks.encode(channel.alloc(), Chunks.CSID_DATA, streamId, RtmpMessage.DATA_AMF0, 0,
                Amf0.encode("|RtmpSampleAccess", true, true), server.settings.chunkSize()));
        channel.flush();
        try {
            server.gate.play(app, key, player);
        } catch (RtmpGate.Refused e) {
            log.info("rtmp play of {}/{} from {} refused: {}", app, key, remote, e.getMessage());
            server.refused();
            onStatus(channel, streamId, "error", "NetStream.Play.StreamNotFound", e.getMessage());
            channel.close();
            return;
        }
        playing.put(streamId, player);
        server.players.incrementAndGet();
        log.debug("rtmp play of {}/{} from {} started", app, key, remote);
    }

    private void closeStream(int streamId) {
        Publishing p = publishing.remove(streamId);
        if (p != null) {
            endPublish(p);
        }
        RtmpPlayer player = playing.remove(streamId);
        if (player != null) {
            player.close();
            server.players.decrementAndGet();
        }
    }

    private void endPublish(Publishing p) {
        if (!p.ended) {
            p.ended = true;
            if (p.sink != null) {
                server.publishers.decrementAndGet();
                p.sink.end();
            }
        }
    }

    private void result(double txn, Object value) {
        if (txn > 0) {
            sendCommand(0, "_result", txn, null, value);
            channel.flush();
        }
    }

    private void sendCommand(int streamId, String name, double txn, Object props, Object info) {
        channel.write(Chunks.encode(channel.alloc(), Chunks.CSID_COMMAND, streamId, RtmpMessage.COMMAND_AMF0, 0,
                Amf0.encode(name, txn, props, info), server.settings.chunkSize()));
    }

    private static Map<String, Object> status(String level, String code, String description) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("level", level);
        info.put("code", code);
        info.put("description", description);
        return info;
    }

    /** Sends {@code onStatus} on a message stream and flushes (on the event loop). */
    static void onStatus(Channel ch, int streamId, String level, String code, String description) {
        RtmpConnection c = ch.pipeline().get(RtmpConnection.class);
        int chunkSize = c == null ? 128 : c.server.settings.chunkSize();
        ByteBuf b = Chunks.encode(ch.alloc(), Chunks.CSID_COMMAND, streamId, RtmpMessage.COMMAND_AMF0, 0,
                Amf0.encode("onStatus", 0.0, null, status(level, code, description)), chunkSize);
        ch.writeAndFlush(b, ch.voidPromise());
    }

    static void closeWith(RtmpPlayer p, String code, String description) {
        p.close();
        closeWith(p.channel(), p.streamId(), code, description);
    }

    static void closeWith(Channel ch, int streamId, String code, String description) {
        onStatus(ch, streamId, "status", code, description);
        ch.writeAndFlush(ch.alloc().buffer(0)).addListener(ChannelFutureListener.CLOSE);
    }
}
