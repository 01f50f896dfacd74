package io.junction.mqtt.broker;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded MQTT broker: the endpoint devices connect to (MQTT 3.1.1 and 5, plain and TLS). It routes
 * publishes between clients like any broker and hands every client publish to the {@link PublishHandler},
 * acknowledging QoS 1/2 only when the handler's stage completes.
 *
 * <p>Unlike the other components, which are actors on virtual threads, the broker runs on Netty event loops:
 * each connection is confined to one loop, and the shared routing state is safe for concurrent use. Sessions
 * live in memory only; they do not survive a restart.
 */
public final class MqttBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MqttBroker.class);

    private final BrokerCore core;
    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final ChannelGroup channels;
    private final Channel plainListener;
    private final Channel tlsListener;
    private final Future<?> sweeper;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MqttBroker(BrokerCore core, EventLoopGroup acceptors, EventLoopGroup workers, ChannelGroup channels,
                       Channel plainListener, Channel tlsListener, Future<?> sweeper) {
        this.core = core;
        this.acceptors = acceptors;
        this.workers = workers;
        this.channels = channels;
        this.plainListener = plainListener;
        this.tlsListener = tlsListener;
        this.sweeper = sweeper;
    }

    /** Starts the broker with the system clock. See {@link #start(BrokerSettings, PublishHandler, MeterRegistry, Clock)}. */
    public static MqttBroker start(BrokerSettings settings, PublishHandler handler, MeterRegistry meterRegistry) {
        return start(settings, handler, meterRegistry, Clock.systemUTC());
    }

    /**
     * Binds the listeners and starts accepting clients.
     *
     * @throws UncheckedIOException if a listener cannot be bound (the message names the address and why)
     * @throws IllegalArgumentException if the TLS certificate or key cannot be read
     */
    public static MqttBroker start(BrokerSettings settings, PublishHandler handler, MeterRegistry meterRegistry, Clock clock) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(meterRegistry, "meterRegistry");
        Objects.requireNonNull(clock, "clock");
        SslContext ssl = settings.tls().map(MqttBroker::sslContext).orElse(null);
        EventLoopGroup acceptors = new MultiThreadIoEventLoopGroup(1,
                new DefaultThreadFactory("junction-mqtt-accept", true), NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("junction-mqtt-io", true), NioIoHandler.newFactory());
        ChannelGroup channels = new DefaultChannelGroup("junction-mqtt", GlobalEventExecutor.INSTANCE);
        BrokerCore core = new BrokerCore(settings, handler, meterRegistry, clock);
        Channel plain = null;
        try {
            plain = bind(settings, settings.port(), null, core, acceptors, workers, channels);
            Channel tls = ssl == null ? null
                    : bind(settings, settings.tls().orElseThrow().port(), ssl, core, acceptors, workers, channels);
            Future<?> sweeper = workers.next().scheduleAtFixedRate(() -> {
                try {
                    core.sweep();
                } catch (RuntimeException e) {
                    log.warn("MQTT session sweep failed", e);
                }
            }, 1, 1, TimeUnit.SECONDS);
            MqttBroker broker = new MqttBroker(core, acceptors, workers, channels, plain, tls, sweeper);
            log.info("MQTT broker listening on {}:{}{}", settings.host(), broker.port(),
                    tls == null ? "" : " and TLS on " + settings.host() + ":" + broker.tlsPort().orElseThrow());
            return broker;
        } catch (RuntimeException e) {
            if (plain != null) {
                plain.close().syncUninterruptibly();
            }
            core.close();
            acceptors.shutdownGracefully(0, 200, TimeUnit.MILLISECONDS);
            workers.shutdownGracefully(0, 200, TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    private static SslContext sslContext(BrokerSettings.Tls tls) {
        for (Path file : List.of(tls.certificateChain(), tls.privateKey())) {
            if (!Files.isReadable(file)) {
                throw new IllegalArgumentException("MQTT TLS file " + file.toAbsolutePath() + " does not exist or is not readable");
            }
        }
        try {
            return SslContextBuilder.forServer(tls.certificateChain().toFile(), tls.privateKey().toFile(),
                    tls.keyPassword().orElse(null)).build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("MQTT TLS certificate " + tls.certificateChain() + " or key " + tls.privateKey()
                    + " cannot be used (PEM certificate chain and PKCS#8 PEM key expected): " + e.getMessage(), e);
        }
    }

    private static Channel bind(BrokerSettings settings, int port, SslContext ssl, BrokerCore core,
                                EventLoopGroup acceptors, EventLoopGroup workers, ChannelGroup channels) {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(512 * 1024, 1024 * 1024))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (core.isClosing()) {
                            ch.close();
                            return;
                        }
                        ChannelPipeline p = ch.pipeline();
                        if (ssl != null) {
                            p.addLast("tls", ssl.newHandler(ch.alloc()));
                        }
                        MqttConnection connection = new MqttConnection(core);
                        p.addLast("bytes", connection.byteCounter());
                        p.addLast("flush", new FlushConsolidationHandler(256, true));
                        p.addLast("decoder", new MqttDecoder(settings.maxPacketBytes(), 65_535));
                        p.addLast("encoder", MqttEncoder.INSTANCE);
                        p.addLast("mqtt", connection);
                        channels.add(ch);
                    }
                });
        ChannelFuture bound = bootstrap.bind(settings.host(), port).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            String message = "Could not bind the MQTT " + (ssl == null ? "" : "TLS ") + "listener to " + settings.host()
                    + ":" + port + ": " + cause.getMessage();
            if (cause instanceof IOException io) {
                throw new UncheckedIOException(message, io);
            }
            throw new IllegalStateException(message, cause);
        }
        return bound.channel();
    }

    /** The plain MQTT port (the bound one when the settings said 0). */
    public int port() {
        return ((InetSocketAddress) plainListener.localAddress()).getPort();
    }

    /** The TLS port, if TLS is configured. */
    public OptionalInt tlsPort() {
        return tlsListener == null ? OptionalInt.empty()
                : OptionalInt.of(((InetSocketAddress) tlsListener.localAddress()).getPort());
    }

    /**
     * Publishes a message from the server (e.g. egress from the REST API) to the matching subscribers, and
     * retains it if asked (an empty retained payload clears the topic's retained message). It is not passed to
     * the {@link PublishHandler}. Completes with the number of sessions it was sent or queued to.
     *
     * @throws IllegalArgumentException if the topic is not a valid topic name, the QoS not 0–2 or the payload
     *     larger than the configured maximum
     * @throws IllegalStateException if the broker is closed
     */
    public CompletableFuture<Integer> publish(String topic, byte[] payload, int qos, boolean retain) {
        Topics.TopicProblem problem = Topics.checkTopicName(topic);
        if (problem != null) {
            throw new IllegalArgumentException("'" + topic + "' is not a valid MQTT topic name (" + problem
                    + "): it must be non-empty UTF-8 without '+', '#' or NUL");
        }
        if (qos < 0 || qos > 2) {
            throw new IllegalArgumentException("MQTT QoS must be 0, 1 or 2, was " + qos);
        }
        Objects.requireNonNull(payload, "payload");
        if (payload.length > core.settings.maxPayloadBytes()) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes exceeds the MQTT maximum of "
                    + core.settings.maxPayloadBytes());
        }
        if (closed.get()) {
            throw new IllegalStateException("the MQTT broker is closed");
        }
        return CompletableFuture.completedFuture(core.publishFromServer(topic, payload.clone(), qos, retain));
    }

    /** Every client seen (connected or not, up to a bound), sorted by client id. */
    public List<ClientInfo> clients() {
        return core.registry.clients();
    }

    /** One client, if it has been seen. */
    public Optional<ClientInfo> client(String clientId) {
        return core.registry.client(clientId);
    }

    /** Registers a listener for clients connecting and disconnecting. */
    public void addConnectionListener(ConnectionListener listener) {
        core.addListener(Objects.requireNonNull(listener, "listener"));
    }

    /** Sessions held (online and offline); for tests. */
    int sessionCount() {
        return core.sessionCount();
    }

    /**
     * Stops accepting, tells MQTT 5 clients the server is shutting down, closes every connection and stops the
     * network threads, within about two seconds. Wills are not published on shutdown. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        core.startClosing();
        sweeper.cancel(false);
        plainListener.close().awaitUninterruptibly(500);
        if (tlsListener != null) {
            tlsListener.close().awaitUninterruptibly(500);
        }
        for (Channel ch : channels) {
            MqttConnection c = ch.pipeline().get(MqttConnection.class);
            if (c != null) {
                c.shutdown();
            } else {
                ch.close();
            }
        }
        channels.newCloseFuture().awaitUninterruptibly(500);
        channels.close().awaitUninterruptibly(500);
        Future<?> a = acceptors.shutdownGracefully(0, 500, TimeUnit.MILLISECONDS);
        Future<?> w = workers.shutdownGracefully(0, 500, TimeUnit.MILLISECONDS);
        a.awaitUninterruptibly(1_000);
        w.awaitUninterruptibly(1_000);
        core.close();
        log.info("MQTT broker stopped");
    }
}
