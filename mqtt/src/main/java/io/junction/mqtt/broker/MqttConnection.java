package io.junction.mqtt.broker;

import io.junction.mqtt.broker.Authenticator.Accepted;
import io.junction.mqtt.broker.Authenticator.Refused;
import io.junction.mqtt.broker.BrokerMetrics.Drop;
import io.junction.mqtt.broker.BrokerMetrics.Rejected;
import io.junction.mqtt.broker.ClientRegistry.ClientRecord;
import io.junction.mqtt.broker.Session.Outbound;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnAckVariableHeader;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttConnectPayload;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttConnectVariableHeader;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttIdentifierRejectedException;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageIdAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageIdVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttPubReplyMessageVariableHeader;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttPublishVariableHeader;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import io.netty.handler.codec.mqtt.MqttSubAckMessage;
import io.netty.handler.codec.mqtt.MqttSubAckPayload;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttSubscriptionOption;
import io.netty.handler.codec.mqtt.MqttTopicSubscription;
import io.netty.handler.codec.mqtt.MqttUnacceptableProtocolVersionException;
import io.netty.handler.codec.mqtt.MqttUnsubAckMessage;
import io.netty.handler.codec.mqtt.MqttUnsubAckPayload;
import io.netty.handler.codec.mqtt.MqttUnsubscribeMessage;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: the last handler of its channel pipeline, after Netty's MQTT codec. It runs the MQTT
 * protocol for that client on the channel's event loop: CONNECT and authentication, publishes in (validated,
 * checked against the access rules, routed, handed to the {@link PublishHandler}, acknowledged in order once
 * the handler's stage completes), subscriptions, and the acknowledgements of messages sent to the client.
 *
 * <p>Back-pressure: packets that arrive while the connection authenticates, or while {@code receiveMaximum}
 * handler stages are outstanding, are parked in arrival order and the channel stops reading until they drain. When
 * the handler refuses a QoS 1 or 2 publish of an MQTT 3.1.1 client at once for lack of room (a
 * {@link BrokerOverloadedException}), the connection keeps that publish, stops reading, parks what arrives, and
 * offers the same publish again after a short pause that grows while the refusals go on: nothing unacknowledged is
 * lost, order is kept, and the client is not disconnected for a burst.
 *
 * <p>All fields are confined to the event loop except those that {@link Session} reads when delivering from
 * other threads ({@code sendWindow}, {@code clientMaxPacket}, {@code record}); those are set before the session
 * is attached, under its monitor, which publishes them.
 */
final class MqttConnection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(MqttConnection.class);

    private static final MqttMessage PINGRESP =
            new MqttMessage(new MqttFixedHeader(MqttMessageType.PINGRESP, false, MqttQoS.AT_MOST_ONCE, false, 0));
    private static final int UNLIMITED = Integer.MAX_VALUE;
    /** First and longest pause before an MQTT 3.1.1 publish refused for lack of room is offered again. */
    private static final long FIRST_RETRY_MILLIS = 2;
    private static final long MAX_RETRY_MILLIS = 100;

    // MQTT 5 reason codes used here.
    private static final int RC_SUCCESS = 0x00;
    private static final int RC_NO_SUBSCRIPTION_EXISTED = 0x11;
    private static final int RC_UNSPECIFIED_ERROR = 0x80;
    private static final int RC_MALFORMED_PACKET = 0x81;
    private static final int RC_PROTOCOL_ERROR = 0x82;
    private static final int RC_NOT_AUTHORIZED = 0x87;
    private static final int RC_SERVER_SHUTTING_DOWN = 0x8B;
    private static final int RC_KEEP_ALIVE_TIMEOUT = 0x8D;
    private static final int RC_SESSION_TAKEN_OVER = 0x8E;
    private static final int RC_TOPIC_FILTER_INVALID = 0x8F;
    private static final int RC_TOPIC_NAME_INVALID = 0x90;
    private static final int RC_PACKET_ID_NOT_FOUND = 0x92;
    private static final int RC_TOPIC_ALIAS_INVALID = 0x94;
    private static final int RC_PACKET_TOO_LARGE = 0x95;
    private static final int RC_QUOTA_EXCEEDED = 0x97;
    private static final int RC_PAYLOAD_FORMAT_INVALID = 0x99;
    private static final int RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E;
    private static final int RC_V3_FAILURE = 0x80;

    private enum State { AWAIT_CONNECT, AUTHENTICATING, CONNECTED, CLOSING }

    private final BrokerCore core;
    private final BrokerMetrics metrics;
    private final BrokerSettings settings;
    private final int limit;
    private final ByteCounter byteCounter = new ByteCounter();

    private ChannelHandlerContext ctx;
    private Channel channel;
    private State state = State.AWAIT_CONNECT;
    private boolean accepted;

    private boolean v5;
    private int protocolLevel;
    private String clientId = "";
    private Optional<String> username = Optional.empty();
    private String deviceUid = "";
    private AccessRules rules;
    private Session session;
    private ClientRecord record;
    private Will will;
    private WillSpec willSpec;
    private boolean cleanStart;
    private long requestedExpiry;
    private long expiry;
    private boolean assignedClientId;
    private int keepAliveSeconds;
    private int sendWindow;
    private int clientMaxPacket = UNLIMITED;
    private long bytesInBeforeConnect;
    private long bytesOutBeforeConnect;

    /** Completes when channelInactive has finished (session given back, disconnect reported). */
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final ArrayDeque<MqttMessage> parked = new ArrayDeque<>();
    private final ArrayDeque<PendingAck> acks = new ArrayDeque<>();
    private int outstanding;
    /** An MQTT 3.1.1 publish the handler refused for lack of room, to be offered again; reading pauses meanwhile. */
    private Retry retry;
    private long retryMillis = FIRST_RETRY_MILLIS;
    private boolean paused;
    private boolean draining;
    private DisconnectReason closeReason;
    private boolean counted;
    private long aclDenied;

    MqttConnection(BrokerCore core) {
        this.core = core;
        this.metrics = core.metrics;
        this.settings = core.settings;
        this.limit = settings.receiveMaximum();
        this.sendWindow = settings.receiveMaximum();
    }

    /** The handler to put at the head of the pipeline (after TLS) that counts MQTT bytes in and out. */
    ChannelDuplexHandler byteCounter() {
        return byteCounter;
    }

    // ---- channel events ------------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.channel = ctx.channel();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.executor().schedule(() -> {
            if (state == State.AWAIT_CONNECT || state == State.AUTHENTICATING) {
                log.debug("Closing connection from {}: no CONNECT completed within {}", remote(), settings.connectTimeout());
                metrics.rejected(Rejected.PROTOCOL);
                closeWith(DisconnectReason.PROTOCOL_ERROR, -1);
            }
        }, settings.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof MqttMessage m)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (m.decoderResult().isFailure()) {
            ReferenceCountUtil.release(m);
            onDecoderFailure(m);
            return;
        }
        switch (state) {
            case CLOSING -> ReferenceCountUtil.release(m);
            case AUTHENTICATING -> park(m);
            case AWAIT_CONNECT -> handle(m);
            case CONNECTED -> {
                MqttMessageType type = m.fixedHeader().messageType();
                if (!parked.isEmpty() || retry != null || outstanding >= limit && type == MqttMessageType.PUBLISH) {
                    if (type == MqttMessageType.PINGREQ) {
                        ctx.writeAndFlush(PINGRESP, ctx.voidPromise());
                    } else {
                        park(m);
                    }
                } else {
                    handle(m);
                }
            }
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && state == State.CONNECTED && !paused) {
            log.debug("Closing connection of client {} from {}: nothing received for 1.5 x keep-alive ({} s)",
                    clientId, remote(), keepAliveSeconds);
            closeWith(DisconnectReason.KEEP_ALIVE_TIMEOUT, RC_KEEP_ALIVE_TIMEOUT);
        } else {
            ReferenceCountUtil.release(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof ClosedChannelException) {
            return;
        }
        if (cause instanceof DecoderException && cause.getCause() instanceof SSLException) {
            metrics.rejected(Rejected.TLS);
            log.debug("Closing connection from {}: TLS failed: {}", remote(), cause.getCause().getMessage());
        } else if (cause instanceof IOException) {
            log.debug("Connection of client {} from {} failed: {}", clientId, remote(), cause.getMessage());
        } else {
            log.warn("Closing connection of client {} from {} after an unexpected error", clientId, remote(), cause);
        }
        if (closeReason == null) {
            closeReason = DisconnectReason.CONNECTION_LOST;
        }
        state = State.CLOSING;
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSING;
        boolean cleanDisconnectParked = false;
        for (MqttMessage m; (m = parked.pollFirst()) != null; ) {
            cleanDisconnectParked |= m.fixedHeader().messageType() == MqttMessageType.DISCONNECT;
            ReferenceCountUtil.release(m);
        }
        acks.clear();
        if (counted) {
            counted = false;
            metrics.connections.decrementAndGet();
        }
        try {
            DisconnectReason reason = closeReason != null ? closeReason
                    : cleanDisconnectParked ? DisconnectReason.CLIENT_DISCONNECT : DisconnectReason.CONNECTION_LOST;
            if (session != null) {
                boolean publishWill = reason != DisconnectReason.CLIENT_DISCONNECT && reason != DisconnectReason.SERVER_SHUTDOWN;
                core.connectionClosed(this, session, will, publishWill);
            }
            if (accepted) {
                ClientRegistry.disconnected(record, this);
                log.debug("Client {} ({}) disconnected: {}", clientId, remote(), reason);
                core.fireDisconnected(record.snapshot(), reason);
            }
        } finally {
            closed.complete(null);
        }
        ctx.fireChannelInactive();
    }

    // ---- inbound packets -----------------------------------------------------------------------------------

    private void park(MqttMessage m) {
        parked.addLast(m);
        pauseReading();
    }

    private void pauseReading() {
        if (!paused) {
            paused = true;
            channel.config().setAutoRead(false);
        }
    }

    /** Handles parked packets while the handler has room, then reads again once nothing is parked. */
    private void resume() {
        if (draining) {
            return;
        }
        draining = true;
        try {
            while (state == State.CONNECTED && outstanding < limit && retry == null) {
                MqttMessage m = parked.pollFirst();
                if (m == null) {
                    break;
                }
                handle(m);
            }
        } finally {
            draining = false;
        }
        if (paused && state == State.CONNECTED && parked.isEmpty() && outstanding < limit && retry == null) {
            paused = false;
            channel.config().setAutoRead(true);
        }
    }

    private void handle(MqttMessage m) {
        MqttMessageType type = m.fixedHeader().messageType();
        if (state == State.AWAIT_CONNECT && type != MqttMessageType.CONNECT) {
            ReferenceCountUtil.release(m);
            metrics.rejected(Rejected.PROTOCOL);
            log.info("Closing connection from {}: first packet was {}, not CONNECT", remote(), type);
            closeWith(DisconnectReason.PROTOCOL_ERROR, -1);
            return;
        }
        switch (type) {
            case CONNECT -> {
                if (state == State.AWAIT_CONNECT) {
                    onConnect((MqttConnectMessage) m);
                } else {
                    protocolError("a second CONNECT");
                }
            }
            case PUBLISH -> onPublish((MqttPublishMessage) m);
            case PUBACK -> session.onPubAck(packetId(m));
            case PUBREC -> onPubRec(m);
            case PUBREL -> {
                int id = packetId(m);
                boolean known = session.releaseInboundQos2(id);
                write(pubReply(MqttMessageType.PUBCOMP, id, known ? RC_SUCCESS : RC_PACKET_ID_NOT_FOUND));
            }
            case PUBCOMP -> session.onPubComp(packetId(m));
            case SUBSCRIBE -> onSubscribe((MqttSubscribeMessage) m);
            case UNSUBSCRIBE -> onUnsubscribe((MqttUnsubscribeMessage) m);
            case PINGREQ -> ctx.writeAndFlush(PINGRESP, ctx.voidPromise());
            case DISCONNECT -> onDisconnect(m);
            default -> {
                ReferenceCountUtil.release(m);
                protocolError("a " + type + " packet, which clients must not send");
            }
        }
    }

    private void onDecoderFailure(MqttMessage m) {
        Throwable cause = m.decoderResult().cause();
        MqttMessageType type = m.fixedHeader() == null ? null : m.fixedHeader().messageType();
        if (cause instanceof MqttUnacceptableProtocolVersionException) {
            metrics.rejected(Rejected.UNSUPPORTED_VERSION);
            log.info("Refusing connection from {}: unsupported MQTT protocol ({})", remote(), cause.getMessage());
            refuse(MqttConnectReturnCode.CONNECTION_REFUSED_UNACCEPTABLE_PROTOCOL_VERSION);
        } else if (cause instanceof MqttIdentifierRejectedException) {
            metrics.rejected(Rejected.CLIENT_ID);
            log.info("Refusing connection from {}: {}", remote(), cause.getMessage());
            refuse(MqttConnectReturnCode.CONNECTION_REFUSED_IDENTIFIER_REJECTED);
        } else if (cause instanceof TooLongFrameException) {
            metrics.rejected(Rejected.TOO_LARGE);
            log.info("Closing connection of client {} from {}: packet too large ({})", clientId, remote(), cause.getMessage());
            closeWith(DisconnectReason.PROTOCOL_ERROR, RC_PACKET_TOO_LARGE);
        } else if (type == MqttMessageType.PUBLISH && cause.getMessage() != null
                && cause.getMessage().startsWith("invalid publish topic name")) {
            metrics.rejected(Rejected.BAD_TOPIC);
            log.info("Closing connection of client {} from {}: {}", clientId, remote(), cause.getMessage());
            closeWith(DisconnectReason.PROTOCOL_ERROR, RC_TOPIC_NAME_INVALID);
        } else {
            metrics.rejected(Rejected.MALFORMED);
            log.info("Closing connection of client {} from {}: malformed packet ({})", clientId, remote(), cause.toString());
            closeWith(DisconnectReason.PROTOCOL_ERROR, RC_MALFORMED_PACKET);
        }
    }

    private void protocolError(String what) {
        metrics.rejected(Rejected.PROTOCOL);
        log.info("Closing connection of client {} from {}: protocol error: {}", clientId, remote(), what);
        closeWith(DisconnectReason.PROTOCOL_ERROR, RC_PROTOCOL_ERROR);
    }

    // ---- CONNECT ---------------------------------------------------------------------------------------------

    /** Will fields read from CONNECT, kept until authentication says who the client is. */
    private record WillSpec(String topic, byte[] payload, int qos, boolean retain, MqttProperties properties,
                            long delaySeconds, boolean utf8) {
    }

    private void onConnect(MqttConnectMessage msg) {
        MqttConnectVariableHeader vh = msg.variableHeader();
        MqttConnectPayload payload = msg.payload();
        protocolLevel = vh.version();
        v5 = protocolLevel == 5;
        state = State.AUTHENTICATING;
        pauseReading();
        keepAliveSeconds = vh.keepAliveTimeSeconds();
        cleanStart = vh.isCleanSession();
        clientId = payload.clientIdentifier();
        if (clientId.isEmpty()) {
            if (!v5 && !cleanStart) {
                metrics.rejected(Rejected.CLIENT_ID);
                log.info("Refusing connection from {}: an empty client id needs clean session", remote());
                refuse(MqttConnectReturnCode.CONNECTION_REFUSED_IDENTIFIER_REJECTED);
                return;
            }
            clientId = "auto-" + UUID.randomUUID();
            assignedClientId = true;
        }
        long maxExpiry = settings.maxSessionExpiry().toSeconds();
        MqttProperties props = vh.properties();
        if (v5) {
            requestedExpiry = intProperty(props, MqttProperties.SESSION_EXPIRY_INTERVAL, 0) & 0xFFFF_FFFFL;
            expiry = Math.min(requestedExpiry, maxExpiry);
            int receiveMax = intProperty(props, MqttProperties.RECEIVE_MAXIMUM, 65_535);
            sendWindow = Math.min(receiveMax <= 0 ? 65_535 : receiveMax, settings.receiveMaximum());
            int maxPacket = intProperty(props, MqttProperties.MAXIMUM_PACKET_SIZE, 0);
            clientMaxPacket = maxPacket <= 0 ? UNLIMITED : maxPacket;
            if (props.getProperty(MqttProperties.AUTHENTICATION_METHOD) != null) {
                metrics.rejected(Rejected.AUTH);
                log.info("Refusing client {} from {}: MQTT 5 enhanced authentication is not supported", clientId, remote());
                refuse(MqttConnectReturnCode.CONNECTION_REFUSED_BAD_AUTHENTICATION_METHOD);
                return;
            }
        } else {
            expiry = cleanStart ? 0 : maxExpiry;
            requestedExpiry = expiry;
        }
        if (vh.isWillFlag() && !readWill(vh, payload)) {
            return;
        }
        String user = vh.hasUserName() ? payload.userName() : null;
        byte[] password = vh.hasPassword() ? payload.passwordInBytes() : null;
        core.authenticator.authenticate(user, password, clientId)
                .whenComplete((result, error) -> runOnLoop(() -> onAuthenticated(result, error)));
    }

    private boolean readWill(MqttConnectVariableHeader vh, MqttConnectPayload payload) {
        String topic = payload.willTopic();
        byte[] body = payload.willMessageInBytes() == null ? new byte[0] : payload.willMessageInBytes();
        Topics.TopicProblem problem = Topics.checkTopicName(topic);
        if (problem != null) {
            metrics.rejected(problem == Topics.TopicProblem.BAD_UTF8 ? Rejected.BAD_UTF8 : Rejected.BAD_TOPIC);
            log.info("Refusing client {} from {}: invalid will topic ({})", clientId, remote(), problem);
            refuseOrClose(MqttConnectReturnCode.CONNECTION_REFUSED_TOPIC_NAME_INVALID);
            return false;
        }
        if (vh.willQos() > 2) {
            metrics.rejected(Rejected.MALFORMED);
            log.info("Refusing client {} from {}: will QoS {}", clientId, remote(), vh.willQos());
            refuseOrClose(MqttConnectReturnCode.CONNECTION_REFUSED_MALFORMED_PACKET);
            return false;
        }
        if (body.length > settings.maxPayloadBytes()) {
            metrics.rejected(Rejected.TOO_LARGE);
            log.info("Refusing client {} from {}: will payload of {} bytes", clientId, remote(), body.length);
            refuseOrClose(MqttConnectReturnCode.CONNECTION_REFUSED_PACKET_TOO_LARGE);
            return false;
        }
        MqttProperties props = v5 ? payload.willProperties() : MqttProperties.NO_PROPERTIES;
        boolean utf8 = v5 && intProperty(props, MqttProperties.PAYLOAD_FORMAT_INDICATOR, 0) == 1;
        if (utf8 && !Topics.isValidUtf8(body)) {
            metrics.rejected(Rejected.BAD_UTF8);
            log.info("Refusing client {} from {}: will payload declared UTF-8 is not", clientId, remote());
            refuseOrClose(MqttConnectReturnCode.CONNECTION_REFUSED_PAYLOAD_FORMAT_INVALID);
            return false;
        }
        long delay = v5 ? intProperty(props, MqttProperties.WILL_DELAY_INTERVAL, 0) & 0xFFFF_FFFFL : 0;
        willSpec = new WillSpec(topic, body, vh.willQos(), vh.isWillRetain(), forwardable(props), delay, utf8);
        return true;
    }

    private void onAuthenticated(Authenticator.Result result, Throwable error) {
        if (state != State.AUTHENTICATING || !channel.isActive()) {
            return;
        }
        if (error != null) {
            metrics.rejected(Rejected.AUTH);
            log.warn("Refusing client {} from {}: credentials could not be checked", clientId, remote(), error);
            refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_UNSPECIFIED_ERROR
                    : MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE);
            return;
        }
        if (result instanceof Refused refused) {
            switch (refused.reason()) {
                case BAD_CREDENTIALS -> {
                    metrics.rejected(Rejected.AUTH);
                    log.info("Refusing client {} from {}: bad user name or password", clientId, remote());
                    refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_BAD_USERNAME_OR_PASSWORD
                            : MqttConnectReturnCode.CONNECTION_REFUSED_BAD_USER_NAME_OR_PASSWORD);
                }
                case NOT_AUTHORIZED -> {
                    metrics.rejected(Rejected.AUTH);
                    log.info("Refusing client {} from {}: no user name and anonymous access is off", clientId, remote());
                    refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED_5
                            : MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED);
                }
                case BUSY -> {
                    metrics.rejected(Rejected.LIMIT);
                    log.warn("Refusing client {} from {}: too many connections waiting for authentication", clientId, remote());
                    refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_BUSY
                            : MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE);
                }
            }
            return;
        }
        Accepted ok = (Accepted) result;
        username = ok.username();
        deviceUid = ok.deviceUid();
        rules = ok.rules();
        if (willSpec != null && !rules.canPublish(willSpec.topic())) {
            metrics.rejected(Rejected.ACL);
            log.info("Refusing client {} (uid {}) from {}: it may not publish its will topic {}",
                    clientId, deviceUid, remote(), willSpec.topic());
            refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED_5
                    : MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED);
            return;
        }
        int connections = metrics.connections.incrementAndGet();
        counted = true;
        if (settings.maxConnections().isPresent() && connections > settings.maxConnections().getAsInt()) {
            metrics.rejected(Rejected.LIMIT);
            log.warn("Refusing client {} from {}: connection limit {} reached", clientId, remote(),
                    settings.maxConnections().getAsInt());
            refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_QUOTA_EXCEEDED
                    : MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE);
            return;
        }
        BrokerCore.Opened opened = core.openSession(clientId, cleanStart, expiry, this);
        if (opened == null) {
            metrics.rejected(Rejected.LIMIT);
            log.warn("Refusing client {} from {}: session limit {} reached", clientId, remote(),
                    settings.maxSessions().orElse(0));
            refuse(v5 ? MqttConnectReturnCode.CONNECTION_REFUSED_QUOTA_EXCEEDED
                    : MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE);
            return;
        }
        session = opened.session();
        if (opened.previous() != null) {
            // Let the previous connection close (and report its disconnect) before this one is announced.
            opened.previous().takeOver().whenComplete((ignored, failure) -> runOnLoop(() -> finishConnect(opened)));
        } else {
            finishConnect(opened);
        }
    }

    /** Accepts the connection: CONNACK, then what the session kept for the client, then parked packets. */
    private void finishConnect(BrokerCore.Opened opened) {
        if (state != State.AUTHENTICATING || !channel.isActive()) {
            return; // channelInactive gives the session back
        }
        if (willSpec != null) {
            will = new Will(willSpec.topic(), willSpec.payload(), willSpec.qos(), willSpec.retain(), willSpec.properties(),
                    willSpec.delaySeconds(), willSpec.utf8(), clientId, username, deviceUid);
            willSpec = null;
        }
        long now = core.clock.millis();
        record = core.registry.connected(clientId, this);
        record.username = username;
        record.deviceUid = deviceUid;
        record.connectedAtMillis = now;
        record.lastSeenMillis = now;
        record.remoteAddress = remote();
        record.protocolVersion = protocolLevel;
        record.bytesIn.addAndGet(bytesInBeforeConnect);
        record.bytesOut.addAndGet(bytesOutBeforeConnect);
        state = State.CONNECTED;
        accepted = true;
        if (keepAliveSeconds > 0) {
            ctx.pipeline().addBefore(ctx.name(), "keepalive",
                    new IdleStateHandler(keepAliveSeconds * 1500L, 0, 0, TimeUnit.MILLISECONDS));
        }
        ctx.write(connAck(MqttConnectReturnCode.CONNECTION_ACCEPTED, opened.present()), ctx.voidPromise());
        core.attach(session, this);
        ctx.flush();
        log.debug("Client {} (uid {}) connected from {} with MQTT level {}, session {}", clientId, deviceUid, remote(),
                protocolLevel, opened.present() ? "resumed" : "new");
        core.fireConnected(record.snapshot());
        resume();
    }

    private MqttConnAckMessage connAck(MqttConnectReturnCode code, boolean sessionPresent) {
        MqttProperties props = MqttProperties.NO_PROPERTIES;
        if (v5 && code == MqttConnectReturnCode.CONNECTION_ACCEPTED) {
            props = new MqttProperties();
            props.add(new MqttProperties.IntegerProperty(MqttProperties.RECEIVE_MAXIMUM, settings.receiveMaximum()));
            props.add(new MqttProperties.IntegerProperty(MqttProperties.MAXIMUM_PACKET_SIZE, settings.maxPacketBytes()));
            props.add(new MqttProperties.IntegerProperty(MqttProperties.TOPIC_ALIAS_MAXIMUM, 0));
            props.add(new MqttProperties.IntegerProperty(MqttProperties.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0));
            props.add(new MqttProperties.IntegerProperty(MqttProperties.SHARED_SUBSCRIPTION_AVAILABLE, 0));
            if (assignedClientId) {
                props.add(new MqttProperties.StringProperty(MqttProperties.ASSIGNED_CLIENT_IDENTIFIER, clientId));
            }
            if (expiry != requestedExpiry) {
                props.add(new MqttProperties.IntegerProperty(MqttProperties.SESSION_EXPIRY_INTERVAL, (int) expiry));
            }
        }
        return new MqttConnAckMessage(new MqttFixedHeader(MqttMessageType.CONNACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                new MqttConnAckVariableHeader(code, sessionPresent, props));
    }

    /** Sends a refusing CONNACK and closes. MQTT 5 codes are sent to MQTT 3.1.1 clients as "server unavailable". */
    private void refuse(MqttConnectReturnCode code) {
        MqttConnectReturnCode sent = code;
        if (!v5 && (code.byteValue() & 0xFF) >= 0x80) {
            sent = MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE;
        }
        state = State.CLOSING;
        closeReason = DisconnectReason.PROTOCOL_ERROR;
        ctx.writeAndFlush(connAck(sent, false)).addListener(ChannelFutureListener.CLOSE);
    }

    /** MQTT 5 gets a CONNACK with the reason; MQTT 3.1.1, which has no code for it, is just closed. */
    private void refuseOrClose(MqttConnectReturnCode v5Code) {
        if (v5) {
            refuse(v5Code);
        } else {
            closeWith(DisconnectReason.PROTOCOL_ERROR, -1);
        }
    }

    // ---- PUBLISH from the client ----------------------------------------------------------------------------

    private void onPublish(MqttPublishMessage msg) {
        try {
            MqttFixedHeader fh = msg.fixedHeader();
            MqttPublishVariableHeader vh = msg.variableHeader();
            int qos = fh.qosLevel().value();
            int packetId = vh.packetId();
            String topic = vh.topicName();
            ByteBuf content = msg.payload();
            metrics.messagesIn.increment();
            record.messagesIn.incrementAndGet();
            MqttProperties props = vh.properties();
            if (v5 && props.getProperty(MqttProperties.TOPIC_ALIAS) != null) {
                reject(Rejected.BAD_TOPIC, "topic alias used, but the topic alias maximum is 0", RC_TOPIC_ALIAS_INVALID);
                return;
            }
            Topics.TopicProblem problem = Topics.checkTopicName(topic);
            if (problem != null) {
                reject(problem == Topics.TopicProblem.BAD_UTF8 ? Rejected.BAD_UTF8 : Rejected.BAD_TOPIC,
                        "invalid topic name in PUBLISH (" + problem + ")", RC_TOPIC_NAME_INVALID);
                return;
            }
            if (content.readableBytes() > settings.maxPayloadBytes()) {
                reject(Rejected.TOO_LARGE, "payload of " + content.readableBytes() + " bytes exceeds the maximum of "
                        + settings.maxPayloadBytes(), RC_PACKET_TOO_LARGE);
                return;
            }
            if (qos == 2 && session.hasInboundQos2(packetId)) {
                // A resent QoS 2 publish that was already received and acknowledged: acknowledge again only.
                immediateAck(2, packetId, RC_SUCCESS);
                return;
            }
            if (!rules.canPublish(topic)) {
                metrics.rejected(Rejected.ACL);
                aclDenied++;
                if (log.isDebugEnabled()) {
                    log.debug("Client {} (uid {}) may not publish to {}: dropped ({} denied on this connection)",
                            clientId, deviceUid, topic, aclDenied);
                }
                if (qos > 0) {
                    // MQTT 3.1.1 has no negative PUBACK: acknowledge without delivering, as Mosquitto does.
                    immediateAck(qos, packetId, v5 ? RC_NOT_AUTHORIZED : RC_SUCCESS);
                }
                return;
            }
            byte[] payload = ByteBufUtil.getBytes(content);
            boolean utf8 = v5 && intProperty(props, MqttProperties.PAYLOAD_FORMAT_INDICATOR, 0) == 1;
            if (utf8 && !Topics.isValidUtf8(payload)) {
                metrics.rejected(Rejected.BAD_UTF8);
                if (log.isDebugEnabled()) {
                    log.debug("Client {} published to {} a payload declared UTF-8 that is not: dropped", clientId, topic);
                }
                if (qos > 0) {
                    immediateAck(qos, packetId, RC_PAYLOAD_FORMAT_INVALID);
                }
                return;
            }
            boolean retain = fh.isRetain();
            Publication p = new Publication(topic, payload, qos, retain,
                    v5 ? forwardable(props) : MqttProperties.NO_PROPERTIES, session);
            if (retain) {
                core.retain(p);
            }
            core.route(p);
            callHandler(new InboundPublish(clientId, username, deviceUid, topic, payload, qos, retain,
                    core.clock.millis(), utf8), qos, packetId);
        } finally {
            msg.release();
        }
    }

    private void reject(Rejected reason, String detail, int v5Code) {
        metrics.rejected(reason);
        log.info("Closing connection of client {} from {}: {}", clientId, remote(), detail);
        closeWith(DisconnectReason.PROTOCOL_ERROR, v5Code);
    }

    /** Handler stages completed off the event loop, waiting for {@link #drainCompleted}. */
    private final java.util.concurrent.ConcurrentLinkedQueue<PendingAck> completed = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicBoolean drainScheduled = new java.util.concurrent.atomic.AtomicBoolean();

    private void callHandler(InboundPublish publish, int qos, int packetId) {
        CompletionStage<?> stage;
        try {
            stage = core.handler.onPublish(publish);
            if (stage == null) {
                stage = CompletableFuture.failedFuture(new NullPointerException("PublishHandler returned null"));
            }
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        if (!v5 && qos > 0 && refusedForLackOfRoom(stage)) {
            retryLater(new Retry(publish, qos, packetId));
            return;
        }
        retryMillis = FIRST_RETRY_MILLIS;
        PendingAck ack = new PendingAck(this, qos, packetId);
        outstanding++;
        if (qos > 0) {
            acks.addLast(ack);
        }
        if (outstanding >= limit) {
            pauseReading();
        }
        stage.whenComplete(ack);
    }

    /** A publish to offer the handler again. */
    private record Retry(InboundPublish publish, int qos, int packetId) {
    }

    /** Whether the stage was already failed, when returned, by an overloaded handler. */
    private static boolean refusedForLackOfRoom(CompletionStage<?> stage) {
        if (stage instanceof CompletableFuture<?> f && f.isCompletedExceptionally() && !f.isCancelled()) {
            Throwable cause = f.exceptionNow();
            if (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            return cause instanceof BrokerOverloadedException;
        }
        return false;
    }

    /**
     * MQTT 3.1.1 has no negative acknowledgement, and a disconnect would make the client send its whole window
     * again into the same full queue: instead the connection stops reading (TCP then holds the client back) and
     * offers the publish again after a pause, on its own event loop.
     */
    private void retryLater(Retry r) {
        retry = r;
        pauseReading();
        if (retryMillis == FIRST_RETRY_MILLIS && log.isDebugEnabled()) {
            log.debug("Publish of client {} refused by an overloaded ingest: reading paused, offering it again", clientId);
        }
        long delay = retryMillis;
        retryMillis = Math.min(MAX_RETRY_MILLIS, retryMillis * 2);
        try {
            ctx.executor().schedule(this::retryPublish, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // The broker is shutting down; the publish was never acknowledged, so the client sends it again.
        }
    }

    private void retryPublish() {
        Retry r = retry;
        retry = null;
        if (r == null || state != State.CONNECTED) {
            return; // closed meanwhile: unacknowledged, so the client sends it again on its next connection
        }
        callHandler(r.publish(), r.qos(), r.packetId());
        if (retry == null) {
            resume();
        }
    }

    /** An acknowledgement that needs no handler, queued behind the pending ones to keep acks in order. */
    private void immediateAck(int qos, int packetId, int reason) {
        PendingAck ack = new PendingAck(this, qos, packetId);
        ack.reason = reason;
        ack.done = true;
        acks.addLast(ack);
        flushAcks();
    }

    /** Runs on the event loop: takes every stage that completed on another thread since the last run. */
    private void drainCompleted() {
        drainScheduled.set(false);
        PendingAck ack;
        while ((ack = completed.poll()) != null) {
            onHandlerDone(ack);
        }
    }

    /** Runs on the event loop when a handler stage completed. */
    private void onHandlerDone(PendingAck ack) {
        outstanding--;
        ack.done = true;
        if (state != State.CONNECTED) {
            return;
        }
        if (ack.qos > 0) {
            flushAcks();
        } else if (ack.failure != null) {
            countIngestFailure(ack);
        }
        if (paused) {
            resume();
        }
    }

    /** Writes the acknowledgements at the head of the queue whose stages have completed, in order. */
    private void flushAcks() {
        boolean wrote = false;
        while (state == State.CONNECTED) {
            PendingAck head = acks.peekFirst();
            if (head == null || !head.done) {
                break;
            }
            acks.pollFirst();
            int reason = head.reason;
            if (head.failure != null) {
                boolean overloaded = countIngestFailure(head);
                if (!v5) {
                    closeWith(DisconnectReason.INGEST_FAILED, -1);
                    return;
                }
                reason = overloaded ? RC_QUOTA_EXCEEDED : RC_UNSPECIFIED_ERROR;
            }
            if (head.qos == 1) {
                ctx.write(pubReply(MqttMessageType.PUBACK, head.packetId, reason), ctx.voidPromise());
            } else {
                ctx.write(pubReply(MqttMessageType.PUBREC, head.packetId, reason), ctx.voidPromise());
                if (reason < 0x80) {
                    session.addInboundQos2(head.packetId);
                }
            }
            wrote = true;
        }
        if (wrote) {
            ctx.flush();
        }
    }

    /** Counts a failed handler stage and logs it (once); returns whether it was an overload. */
    private boolean countIngestFailure(PendingAck ack) {
        Throwable cause = ack.failure;
        if ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        boolean overloaded = cause instanceof BrokerOverloadedException;
        metrics.rejected(overloaded ? Rejected.INGEST_OVERLOADED : Rejected.INGEST_ERROR);
        String consequence = ack.qos == 0 ? "dropped" : v5 ? "refused with a reason code"
                : "closing the MQTT 3.1.1 connection so that the client sends it again";
        if (overloaded) {
            log.debug("Publish of client {} refused by an overloaded ingest ({}): {}", clientId, cause.getMessage(), consequence);
        } else {
            log.warn("Publish of client {} could not be ingested ({}): {}", clientId, cause, consequence);
        }
        return overloaded;
    }

    /** Tracks one handler stage; is its own completion callback and event-loop task to save allocations. */
    private static final class PendingAck implements BiConsumer<Object, Throwable>, Runnable {
        final MqttConnection connection;
        final int qos;
        final int packetId;
        int reason;
        boolean done;
        Throwable failure;

        PendingAck(MqttConnection connection, int qos, int packetId) {
            this.connection = connection;
            this.qos = qos;
            this.packetId = packetId;
        }

        @Override
        public void accept(Object result, Throwable error) {
            failure = error;
            EventLoop loop = connection.channel.eventLoop();
            if (loop.inEventLoop()) {
                run();
                return;
            }
            // Stages of one group commit complete together: hand them over in one event-loop task per
            // connection, not one task (and selector wake-up) per message.
            connection.completed.add(this);
            if (connection.drainScheduled.compareAndSet(false, true)) {
                try {
                    loop.execute(connection::drainCompleted);
                } catch (RejectedExecutionException e) {
                    // The broker is shutting down; the connection is gone with its acks.
                }
            }
        }

        @Override
        public void run() {
            connection.onHandlerDone(this);
        }
    }

    // ---- acknowledgements of messages sent to the client -----------------------------------------------------

    private void onPubRec(MqttMessage m) {
        int id = packetId(m);
        int reason = m.variableHeader() instanceof MqttPubReplyMessageVariableHeader h ? h.reasonCode() & 0xFF : 0;
        boolean failed = reason >= 0x80;
        boolean known = session.onPubRec(id, failed);
        if (!failed) {
            write(pubReply(MqttMessageType.PUBREL, id, known ? RC_SUCCESS : RC_PACKET_ID_NOT_FOUND));
        }
    }

    // ---- SUBSCRIBE / UNSUBSCRIBE / DISCONNECT ------------------------------------------------------------------

    private record RetainedRequest(String filter, int qos) {
    }

    private void onSubscribe(MqttSubscribeMessage msg) {
        int packetId = msg.idAndPropertiesVariableHeader().messageId();
        List<MqttTopicSubscription> wanted = msg.payload().topicSubscriptions();
        if (wanted.isEmpty()) {
            protocolError("SUBSCRIBE without topic filters");
            return;
        }
        int[] codes = new int[wanted.size()];
        List<RetainedRequest> retained = new ArrayList<>(wanted.size());
        for (int i = 0; i < codes.length; i++) {
            MqttTopicSubscription t = wanted.get(i);
            String filter = t.topicFilter();
            MqttSubscriptionOption option = t.option();
            if (filter == null || !Topics.isValidFilter(filter)) {
                metrics.rejected(Rejected.BAD_TOPIC);
                codes[i] = v5 ? RC_TOPIC_FILTER_INVALID : RC_V3_FAILURE;
                log.debug("Client {} sent an invalid topic filter {}", clientId, filter);
                continue;
            }
            if (Topics.isShared(filter)) {
                codes[i] = v5 ? RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED : RC_V3_FAILURE;
                continue;
            }
            if (!rules.canSubscribe(filter)) {
                metrics.rejected(Rejected.ACL);
                codes[i] = v5 ? RC_NOT_AUTHORIZED : RC_V3_FAILURE;
                log.debug("Client {} (uid {}) may not subscribe to {}", clientId, deviceUid, filter);
                continue;
            }
            int qos = Math.min(option.qos().value(), 2);
            boolean isNew = core.subscribe(session, filter, qos, v5 && option.isNoLocal(), v5 && option.isRetainAsPublished());
            codes[i] = qos;
            MqttSubscriptionOption.RetainedHandlingPolicy policy = v5 ? option.retainHandling()
                    : MqttSubscriptionOption.RetainedHandlingPolicy.SEND_AT_SUBSCRIBE;
            if (policy == MqttSubscriptionOption.RetainedHandlingPolicy.SEND_AT_SUBSCRIBE
                    || policy == MqttSubscriptionOption.RetainedHandlingPolicy.SEND_AT_SUBSCRIBE_IF_NOT_YET_EXISTS && isNew) {
                retained.add(new RetainedRequest(filter, qos));
            }
        }
        write(new MqttSubAckMessage(new MqttFixedHeader(MqttMessageType.SUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                new MqttMessageIdAndPropertiesVariableHeader(packetId, MqttProperties.NO_PROPERTIES),
                new MqttSubAckPayload(codes)));
        for (RetainedRequest r : retained) {
            core.sendRetained(session, r.filter(), r.qos());
        }
    }

    private void onUnsubscribe(MqttUnsubscribeMessage msg) {
        int packetId = msg.idAndPropertiesVariableHeader().messageId();
        List<String> filters = msg.payload().topics();
        short[] codes = new short[filters.size()];
        for (int i = 0; i < codes.length; i++) {
            String filter = filters.get(i);
            boolean existed = filter != null && core.unsubscribe(session, filter);
            codes[i] = (short) (existed ? RC_SUCCESS : RC_NO_SUBSCRIPTION_EXISTED);
        }
        write(new MqttUnsubAckMessage(new MqttFixedHeader(MqttMessageType.UNSUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                new MqttMessageIdAndPropertiesVariableHeader(packetId, MqttProperties.NO_PROPERTIES),
                v5 ? new MqttUnsubAckPayload(codes) : null));
    }

    private void onDisconnect(MqttMessage m) {
        int reason = 0;
        if (v5 && m.variableHeader() instanceof MqttReasonCodeAndPropertiesVariableHeader h) {
            reason = h.reasonCode() & 0xFF;
            MqttProperties.MqttProperty<?> exp = h.properties().getProperty(MqttProperties.SESSION_EXPIRY_INTERVAL);
            if (exp != null && expiry > 0) {
                core.updateExpiry(session, ((Integer) exp.value()) & 0xFFFF_FFFFL);
            }
        }
        closeReason = reason == 0x04 ? DisconnectReason.CLIENT_DISCONNECT_WITH_WILL : DisconnectReason.CLIENT_DISCONNECT;
        state = State.CLOSING;
        ctx.close();
    }

    // ---- closing -----------------------------------------------------------------------------------------------

    /** Closes after flushing what was written; MQTT 5 clients that were accepted first get DISCONNECT with the code. */
    private void closeWith(DisconnectReason reason, int v5Code) {
        if (state == State.CLOSING && closeReason != null) {
            return;
        }
        state = State.CLOSING;
        closeReason = reason;
        if (v5 && accepted && v5Code > 0 && channel.isActive()) {
            MqttMessage disconnect = new MqttMessage(
                    new MqttFixedHeader(MqttMessageType.DISCONNECT, false, MqttQoS.AT_MOST_ONCE, false, 0),
                    new MqttReasonCodeAndPropertiesVariableHeader((byte) v5Code, MqttProperties.NO_PROPERTIES));
            ctx.writeAndFlush(disconnect).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * Another connection with the same client id took the session: closes this one (from any thread). The
     * returned stage completes once this connection has closed and reported its disconnect.
     */
    CompletableFuture<Void> takeOver() {
        runOnLoop(() -> {
            log.debug("Client {} from {}: session taken over by a new connection", clientId, remote());
            closeWith(DisconnectReason.SESSION_TAKEN_OVER, RC_SESSION_TAKEN_OVER);
        });
        return closed;
    }

    /** The broker is stopping (from any thread). */
    void shutdown() {
        runOnLoop(() -> closeWith(DisconnectReason.SERVER_SHUTDOWN, RC_SERVER_SHUTTING_DOWN));
    }

    private void runOnLoop(Runnable task) {
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            task.run();
        } else {
            try {
                loop.execute(task);
            } catch (RejectedExecutionException e) {
                // The event loop is gone: the broker is closed and so is this channel.
            }
        }
    }

    // ---- sending to the client (called by Session under its monitor, from any thread) ------------------------

    int sendWindow() {
        return sendWindow;
    }

    /** Whether the publication exceeds the MQTT 5 client's maximum packet size (counted as a drop if so). */
    boolean tooLarge(Publication p) {
        if (clientMaxPacket == UNLIMITED) {
            return false;
        }
        long size = 1 + 4 + 2 + ByteBufUtil.utf8Bytes(p.topic()) + 2 + p.payload().length + 4 + propertiesSize(p.properties());
        if (size > clientMaxPacket) {
            metrics.dropped(Drop.TOO_LARGE_FOR_CLIENT);
            return true;
        }
        return false;
    }

    boolean sendQos0(Publication p, boolean retain) {
        if (!channel.isWritable()) {
            metrics.dropped(Drop.SLOW_CONSUMER);
            return false;
        }
        if (tooLarge(p)) {
            return false;
        }
        writePublish(p, 0, retain, 0, false);
        return true;
    }

    void sendPublish(Outbound o, boolean dup) {
        writePublish(o.publication, o.qos, o.retain, o.packetId, dup);
    }

    void sendPubRel(int packetId) {
        write(pubReply(MqttMessageType.PUBREL, packetId, RC_SUCCESS));
    }

    private void writePublish(Publication p, int qos, boolean retain, int packetId, boolean dup) {
        metrics.messagesOut.increment();
        record.messagesOut.incrementAndGet();
        MqttPublishMessage msg = new MqttPublishMessage(
                new MqttFixedHeader(MqttMessageType.PUBLISH, dup, MqttQoS.valueOf(qos), retain, 0),
                new MqttPublishVariableHeader(p.topic(), packetId, p.properties()),
                Unpooled.wrappedBuffer(p.payload()));
        channel.writeAndFlush(msg, channel.voidPromise());
    }

    private void write(MqttMessage msg) {
        channel.writeAndFlush(msg, channel.voidPromise());
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static MqttMessage pubReply(MqttMessageType type, int packetId, int reason) {
        MqttQoS qos = type == MqttMessageType.PUBREL ? MqttQoS.AT_LEAST_ONCE : MqttQoS.AT_MOST_ONCE;
        return new MqttMessage(new MqttFixedHeader(type, false, qos, false, 0),
                new MqttPubReplyMessageVariableHeader(packetId, (byte) reason, MqttProperties.NO_PROPERTIES));
    }

    private static int packetId(MqttMessage m) {
        return ((MqttMessageIdVariableHeader) m.variableHeader()).messageId();
    }

    private static int intProperty(MqttProperties props, int id, int fallback) {
        MqttProperties.MqttProperty<?> p = props.getProperty(id);
        return p != null && p.value() instanceof Integer i ? i : fallback;
    }

    /** The properties of a PUBLISH (or will) that are forwarded to subscribers; others are dropped. */
    static MqttProperties forwardable(MqttProperties in) {
        var all = in.listAll();
        if (all.isEmpty()) {
            return MqttProperties.NO_PROPERTIES;
        }
        boolean allForwardable = true;
        for (MqttProperties.MqttProperty<?> p : all) {
            allForwardable &= isForwardable(p.propertyId());
        }
        if (allForwardable) {
            return in;
        }
        MqttProperties out = new MqttProperties();
        for (MqttProperties.MqttProperty<?> p : all) {
            if (isForwardable(p.propertyId())) {
                out.add(p);
            }
        }
        return out;
    }

    private static boolean isForwardable(int id) {
        return id == MqttProperties.PAYLOAD_FORMAT_INDICATOR || id == MqttProperties.PUBLICATION_EXPIRY_INTERVAL
                || id == MqttProperties.CONTENT_TYPE || id == MqttProperties.RESPONSE_TOPIC
                || id == MqttProperties.CORRELATION_DATA || id == MqttProperties.USER_PROPERTY;
    }

    private static long propertiesSize(MqttProperties props) {
        long size = 0;
        for (MqttProperties.MqttProperty<?> p : props.listAll()) {
            Object v = p.value();
            if (v instanceof Integer) {
                size += 5;
            } else if (v instanceof String s) {
                size += 3 + ByteBufUtil.utf8Bytes(s);
            } else if (v instanceof byte[] b) {
                size += 3 + b.length;
            } else if (v instanceof List<?> pairs) {
                for (Object o : pairs) {
                    if (o instanceof MqttProperties.StringPair pair) {
                        size += 5 + ByteBufUtil.utf8Bytes(pair.key) + ByteBufUtil.utf8Bytes(pair.value);
                    }
                }
            }
        }
        return size;
    }

    private String remote() {
        SocketAddress a = channel == null ? null : channel.remoteAddress();
        if (a instanceof InetSocketAddress inet) {
            return inet.getAddress().getHostAddress() + ":" + inet.getPort();
        }
        return String.valueOf(a);
    }

    /** Counts MQTT bytes (after TLS) per client and in total. */
    private final class ByteCounter extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
                int n = b.readableBytes();
                metrics.bytesIn.increment(n);
                ClientRecord r = record;
                if (r != null) {
                    r.bytesIn.addAndGet(n);
                    r.lastSeenMillis = core.clock.millis();
                } else {
                    bytesInBeforeConnect += n;
                }
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof ByteBuf b) {
                int n = b.readableBytes();
                metrics.bytesOut.increment(n);
                ClientRecord r = record;
                if (r != null) {
                    r.bytesOut.addAndGet(n);
                } else {
                    bytesOutBeforeConnect += n;
                }
            }
            ctx.write(msg, promise);
        }
    }
}
