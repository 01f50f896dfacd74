package io.junction.media.rtmp;

import io.junction.core.config.JunctionConfig;
import io.junction.media.MediaSettings;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The RTMP endpoint: listens on {@code [rtmp] port} (and RTMPS on {@code [rtmp.tls] port} when a certificate is
 * configured), speaks RTMP with each client, and asks the {@link RtmpGate} — the workflows — which publishes and
 * plays to accept. A client that breaks the protocol loses its own connection; the others go on.
 */
public final class RtmpServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RtmpServer.class);

    final MediaSettings.Rtmp settings;
    final RtmpGate gate;
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger publishers = new AtomicInteger();
    final AtomicInteger players = new AtomicInteger();
    private final MeterRegistry metrics;
    private final ConcurrentHashMap<String, Counter> rejected = new ConcurrentHashMap<>();
    private final Counter refused;
    private final Counter bytesIn;
    private final Counter skipped;
    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final ChannelGroup channels = new DefaultChannelGroup("junction-rtmp", GlobalEventExecutor.INSTANCE);
    private Channel plain;
    private Channel tls;

    private RtmpServer(MediaSettings.Rtmp settings, RtmpGate gate, MeterRegistry metrics) {
        this.settings = settings;
        this.gate = gate;
        this.metrics = metrics;
        this.refused = Counter.builder("junction_rtmp_refused").description("publishes and plays no workflow accepted").register(metrics);
        this.bytesIn = Counter.builder("junction_rtmp_media_bytes_in").description("audio and video bytes received from publishers").register(metrics);
        this.skipped = Counter.builder("junction_rtmp_player_skipped_frames").description("frames skipped for players that could not keep up").register(metrics);
        Gauge.builder("junction_rtmp_connections", connections, AtomicInteger::get).register(metrics);
        Gauge.builder("junction_rtmp_publishers", publishers, AtomicInteger::get).register(metrics);
        Gauge.builder("junction_rtmp_players", players, AtomicInteger::get).register(metrics);
        IoHandlerFactory io = Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.acceptors = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("junction-rtmp-accept", true), io);
        this.workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("junction-rtmp-io", true), io);
    }

    /** Binds the listeners; throws {@link IllegalArgumentException} for an unusable certificate, {@link UncheckedIOException} for a port in use. */
    public static RtmpServer start(MediaSettings.Rtmp settings, RtmpGate gate, MeterRegistry metrics) {
        SslContext ssl = settings.tls().map(RtmpServer::sslContext).orElse(null);
        RtmpServer server = new RtmpServer(settings, gate, metrics);
        try {
            server.plain = server.bind(settings.port(), null);
            if (ssl != null) {
                server.tls = server.bind(settings.tls().orElseThrow().port(), ssl);
            }
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
        log.info("RTMP endpoint listening on {}:{}{}", settings.host(), server.port(),
                server.tls == null ? "" : " and RTMPS on " + settings.host() + ":" + server.tlsPort().orElseThrow());
        return server;
    }

    private static SslContext sslContext(JunctionConfig.Tls tls) {
        for (Path file : List.of(tls.cert(), tls.key())) {
            if (!Files.isReadable(file)) {
                throw new IllegalArgumentException("RTMPS file " + file.toAbsolutePath() + " does not exist or is not readable");
            }
        }
        try {
            return SslContextBuilder.forServer(tls.cert().toFile(), tls.key().toFile(), tls.keyPassword().orElse(null)).build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("RTMPS certificate " + tls.cert() + " or key " + tls.key()
                    + " cannot be used (PEM certificate chain and PKCS#8 PEM key expected): " + e.getMessage(), e);
        }
    }

    private Channel bind(int port, SslContext ssl) {
        int high = settings.playerBufferBytes();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(high / 2, high))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (ssl != null) {
                            ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast("decoder", new RtmpDecoder(settings.maxMessageBytes(), settings.maxChunkSize()));
                        ch.pipeline().addLast("rtmp", new RtmpConnection(RtmpServer.this));
                        channels.add(ch);
                    }
                });
        ChannelFuture bound = bootstrap.bind(settings.host(), port).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            String message = "could not bind the RTMP " + (ssl == null ? "" : "TLS ") + "listener to " + settings.host()
                    + ":" + port + ": " + cause.getMessage();
            throw new UncheckedIOException(message, cause instanceof IOException io ? io : new IOException(cause));
        }
        return bound.channel();
    }

    /** The plain RTMP port (the bound one when the settings said 0). */
    public int port() {
        return ((InetSocketAddress) plain.localAddress()).getPort();
    }

    public OptionalInt tlsPort() {
        return tls == null ? OptionalInt.empty() : OptionalInt.of(((InetSocketAddress) tls.localAddress()).getPort());
    }

    public int connections() {
        return connections.get();
    }

    public int publishers() {
        return publishers.get();
    }

    public int players() {
        return players.get();
    }

    void rejected(String reason) {
        rejected.computeIfAbsent(reason, r -> Counter.builder("junction_rtmp_rejected")
                .description("RTMP connections closed for breaking the protocol or a limit").tag("reason", r)
                .register(metrics)).increment();
    }

    void refused() {
        refused.increment();
    }

    void mediaIn(int bytes) {
        bytesIn.increment(bytes);
    }

    void skipped() {
        skipped.increment();
    }

    @Override
    public void close() {
        if (plain != null) {
            plain.close().awaitUninterruptibly();
        }
        if (tls != null) {
            tls.close().awaitUninterruptibly();
        }
        channels.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        acceptors.shutdownGracefully(0, 200, TimeUnit.MILLISECONDS);
        workers.shutdownGracefully(0, 500, TimeUnit.MILLISECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
}
