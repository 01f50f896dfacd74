package io.junction.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A lean MQTT 3.1.1 client for load generation, built on Netty's MQTT codec: every connection of a bench shares one
 * event-loop group; each {@link MqttConnection} publishes from its event loop (a bounded window of QoS 1 packet ids,
 * or as fast as the socket takes QoS 0), so the generator itself allocates no thread per device.
 */
public final class MqttBenchClient implements AutoCloseable {

    private final EventLoopGroup group;

    public MqttBenchClient(int threads) {
        this.group = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
    }

    public MqttBenchClient() {
        this(Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())));
    }

    /**
     * Opens a TCP connection, sends CONNECT (clean session, keep-alive 60 s) and completes when CONNACK accepted it.
     *
     * @param sink where received PUBLISH packets go; may be null for a publish-only connection
     */
    public CompletableFuture<MqttConnection> connect(String host, int port, String clientId, MqttConnection.Sink sink) {
        MqttConnection conn = new MqttConnection(clientId, sink);
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("decoder", new MqttDecoder(1024 * 1024));
                        ch.pipeline().addLast("encoder", MqttEncoder.INSTANCE);
                        ch.pipeline().addLast("client", conn.handler());
                    }
                });
        ChannelFuture f = b.connect(host, port);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                conn.connectedFuture().completeExceptionally(done.cause());
            }
        });
        return conn.connectedFuture().orTimeout(15, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
