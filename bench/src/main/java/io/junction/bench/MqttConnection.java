package io.junction.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageIdVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttPubAckMessage;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttPublishVariableHeader;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttSubAckMessage;
import io.netty.handler.codec.mqtt.MqttVersion;
import io.netty.util.concurrent.ScheduledFuture;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One MQTT 3.1.1 connection of the load generator. All publishing state lives on the channel's event loop; the
 * counters are readable from any thread.
 */
public final class MqttConnection {

    /** Receives the PUBLISH packets of a subscribing connection, on its event loop. */
    public interface Sink {
        void onPublish(String topic, ByteBuf payload);
    }

    /** Told about each PUBACK of a QoS 1 publish, on the event loop. */
    public interface AckListener {
        void onAck(int device, long seq, long sentNanos, long ackNanos);
    }

    /**
     * What a connection publishes.
     *
     * @param ratePerSec 0 = as fast as possible (QoS 1: keep {@code window} publishes in flight; QoS 0: as fast as
     *                   the socket takes them)
     * @param window     the most QoS 1 publishes waiting for a PUBACK (1–65535)
     * @param acks       told about every PUBACK; may be null
     */
    public record Plan(String topic, int qos, int payloadBytes, int run, int device, double ratePerSec, int window,
                       AckListener acks) {
    }

    private static final int QOS0_BATCH = 128;

    private final String clientId;
    private final Sink sink;
    private final CompletableFuture<MqttConnection> connected = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile CompletableFuture<Void> subscribed;
    private final Handler handler = new Handler();

    private volatile Channel channel;
    private volatile Throwable error;

    // publishing state: event loop only
    private Plan plan;
    private MqttFixedHeader publishHeader;
    private boolean running;
    private boolean flushNeeded;
    private int[] freeIds;
    private int freeTop;
    private boolean[] inFlight;
    private long[] idSeq;
    private long[] idSentAt;
    private long nextSeq;
    private long startNanos;
    private long scheduled;        // rate mode: messages the schedule has asked for so far
    private ScheduledFuture<?> tick;
    private ScheduledFuture<?> ping;

    // counters: written on the event loop only, read anywhere
    private volatile long sent;
    private volatile long acked;
    private volatile long skipped;
    private volatile int inFlightCount;

    MqttConnection(String clientId, Sink sink) {
        this.clientId = clientId;
        this.sink = sink;
    }

    Handler handler() {
        return handler;
    }

    CompletableFuture<MqttConnection> connectedFuture() {
        return connected;
    }

    public String clientId() {
        return clientId;
    }

    /** Messages written to the socket so far. */
    public long sent() {
        return sent;
    }

    /** QoS 1 publishes whose PUBACK arrived so far. */
    public long acked() {
        return acked;
    }

    /** Rate mode: messages the schedule asked for that could not be sent in time (window full, socket full). */
    public long skipped() {
        return skipped;
    }

    public int inFlight() {
        return inFlightCount;
    }

    public boolean isActive() {
        Channel c = channel;
        return c != null && c.isActive();
    }

    /** The first error seen on this connection, or null. */
    public Throwable error() {
        return error;
    }

    public CompletableFuture<Void> closedFuture() {
        return closed;
    }

    /** Subscribes to {@code filter}; completes on SUBACK. */
    public CompletableFuture<Void> subscribe(String filter, int qos) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        subscribed = f;
        MqttMessage m = MqttMessageBuilders.subscribe().messageId(1).addSubscription(MqttQoS.valueOf(qos), filter).build();
        channel.writeAndFlush(m).addListener(w -> {
            if (!w.isSuccess()) {
                f.completeExceptionally(w.cause());
            }
        });
        return f.orTimeout(10, TimeUnit.SECONDS);
    }

    /** Starts publishing according to {@code plan}; returns at once. */
    public void start(Plan p) {
        if (p.qos() != 0 && p.qos() != 1) {
            throw new IllegalArgumentException("qos must be 0 or 1");
        }
        channel.eventLoop().execute(() -> {
            plan = p;
            publishHeader = new MqttFixedHeader(MqttMessageType.PUBLISH, false, MqttQoS.valueOf(p.qos()), false, 0);
            int w = Math.max(1, Math.min(65535, p.window()));
            freeIds = new int[w];
            for (int i = 0; i < w; i++) {
                freeIds[i] = w - i;
            }
            freeTop = w;
            inFlight = new boolean[w + 1];
            idSeq = new long[w + 1];
            idSentAt = new long[w + 1];
            running = true;
            startNanos = System.nanoTime();
            scheduled = 0;
            if (p.ratePerSec() > 0) {
                tick = channel.eventLoop().scheduleAtFixedRate(this::onTick, 0, 1, TimeUnit.MILLISECONDS);
            } else {
                pump();
            }
        });
    }

    /** Stops publishing (messages in flight may still be acknowledged); returns once stopped. */
    public void stop() {
        Channel c = channel;
        if (c == null || !c.isActive()) {
            return;
        }
        c.eventLoop().submit(() -> {
            running = false;
            if (tick != null) {
                tick.cancel(false);
                tick = null;
            }
        }).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** Waits until no QoS 1 publish is waiting for its PUBACK; false on time-out or a closed connection. */
    public boolean awaitAcks(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlightCount > 0) {
            if (!isActive() || System.nanoTime() > deadline) {
                return false;
            }
            sleep(5);
        }
        return true;
    }

    /** Sends DISCONNECT and closes the socket. */
    public void close() {
        Channel c = channel;
        if (c == null) {
            return;
        }
        if (c.isActive()) {
            c.eventLoop().execute(() -> {
                running = false;
                if (tick != null) {
                    tick.cancel(false);
                }
            });
            c.writeAndFlush(MqttMessage.DISCONNECT).addListener(f -> c.close());
        }
        c.closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    // ---- event loop ----

    private boolean canSend() {
        if (!channel.isWritable()) {
            return false;
        }
        return plan.qos() == 0 || freeTop > 0;
    }

    private void sendOne() {
        long seq = nextSeq++;
        long now = System.nanoTime();
        ByteBuf payload = Payload.write(channel.alloc(), plan.payloadBytes(), now, plan.run(), plan.device(), seq);
        int id = 0;
        if (plan.qos() == 1) {
            id = freeIds[--freeTop];
            inFlight[id] = true;
            idSeq[id] = seq;
            idSentAt[id] = now;
            inFlightCount++;
        }
        channel.write(new MqttPublishMessage(publishHeader, new MqttPublishVariableHeader(plan.topic(), id), payload),
                channel.voidPromise());
        sent++;
        flushNeeded = true;
    }

    /** As-fast-as-possible mode: fills the window (QoS 1) or writes a batch while the socket takes it (QoS 0). */
    private void pump() {
        if (!running || plan.ratePerSec() > 0) {
            return;
        }
        int n = 0;
        while (canSend() && (plan.qos() == 1 || n < QOS0_BATCH)) {
            sendOne();
            n++;
        }
        flushIfNeeded();
        if (plan.qos() == 0 && running && channel.isWritable()) {
            channel.eventLoop().execute(this::pump);
        }
    }

    private void onTick() {
        if (!running) {
            return;
        }
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        long due = (long) (plan.ratePerSec() * elapsed) - scheduled;
        long maxDebt = Math.max(1, (long) (plan.ratePerSec() / 10));   // at most 100 ms of catching up
        if (due > maxDebt) {
            skipped += due - maxDebt;
            scheduled += due - maxDebt;
            due = maxDebt;
        }
        while (due > 0 && canSend()) {
            sendOne();
            scheduled++;
            due--;
        }
        flushIfNeeded();
    }

    private void flushIfNeeded() {
        if (flushNeeded) {
            flushNeeded = false;
            channel.flush();
        }
    }

    private void onPubAck(int id) {
        if (inFlight == null || id <= 0 || id >= inFlight.length || !inFlight[id]) {
            return;   // an id we are not waiting for: ignore
        }
        inFlight[id] = false;
        freeIds[freeTop++] = id;
        if (plan.acks() != null) {
            // before the volatile counters change, so a thread that sees them also sees what the listener did
            plan.acks().onAck(plan.device(), idSeq[id], idSentAt[id], System.nanoTime());
        }
        acked++;
        inFlightCount--;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    final class Handler extends ChannelInboundHandlerAdapter {

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            MqttMessage connect = MqttMessageBuilders.connect()
                    .clientId(clientId)
                    .protocolVersion(MqttVersion.MQTT_3_1_1)
                    .cleanSession(true)
                    .keepAlive(60)
                    .build();
            ctx.writeAndFlush(connect);
            ping = ctx.executor().scheduleAtFixedRate(
                    () -> ctx.writeAndFlush(MqttMessage.PINGREQ), 20, 20, TimeUnit.SECONDS);
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof MqttMessage m)) {
                return;
            }
            try {
                if (m.decoderResult().isFailure()) {
                    fail(ctx, m.decoderResult().cause());
                    return;
                }
                switch (m.fixedHeader().messageType()) {
                    case CONNACK -> {
                        MqttConnectReturnCode code = ((MqttConnAckMessage) m).variableHeader().connectReturnCode();
                        if (code == MqttConnectReturnCode.CONNECTION_ACCEPTED) {
                            connected.complete(MqttConnection.this);
                        } else {
                            fail(ctx, new IllegalStateException("CONNACK refused " + clientId + ": " + code));
                        }
                    }
                    case PUBACK -> {
                        onPubAck(((MqttMessageIdVariableHeader) m.variableHeader()).messageId());
                        if (running && plan.ratePerSec() <= 0) {
                            while (canSend()) {
                                sendOne();
                            }
                        }
                    }
                    case PUBLISH -> {
                        MqttPublishMessage p = (MqttPublishMessage) m;
                        if (sink != null) {
                            sink.onPublish(p.variableHeader().topicName(), p.payload());
                        }
                        if (p.fixedHeader().qosLevel() == MqttQoS.AT_LEAST_ONCE) {
                            ctx.write(new MqttPubAckMessage(
                                    new MqttFixedHeader(MqttMessageType.PUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                                    MqttMessageIdVariableHeader.from(p.variableHeader().packetId())), ctx.voidPromise());
                            flushNeeded = true;
                        }
                    }
                    case SUBACK -> {
                        CompletableFuture<Void> f = subscribed;
                        if (f != null) {
                            int granted = ((MqttSubAckMessage) m).payload().grantedQoSLevels().get(0);
                            if (granted == 0x80) {
                                f.completeExceptionally(new IllegalStateException("subscription refused"));
                            } else {
                                f.complete(null);
                            }
                        }
                    }
                    default -> {
                        // PINGRESP and anything else: nothing to do
                    }
                }
            } finally {
                io.netty.util.ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            flushIfNeeded();
            ctx.fireChannelReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && running && plan.ratePerSec() <= 0) {
                pump();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            running = false;
            if (tick != null) {
                tick.cancel(false);
            }
            if (ping != null) {
                ping.cancel(false);
            }
            connected.completeExceptionally(new IllegalStateException("connection " + clientId + " closed before CONNACK"));
            CompletableFuture<Void> s = subscribed;
            if (s != null) {
                s.completeExceptionally(new IllegalStateException("connection closed before SUBACK"));
            }
            closed.complete(null);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause);
        }

        private void fail(ChannelHandlerContext ctx, Throwable cause) {
            if (error == null) {
                error = cause;
            }
            connected.completeExceptionally(cause);
            ctx.close();
        }
    }
}
