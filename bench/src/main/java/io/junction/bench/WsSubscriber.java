package io.junction.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A live subscriber on Junction's WebSocket ({@code {"op":"subscribe","pattern":"#"}}): reads message frames, takes the
 * bench payload out of their body for the {@link Receiver}, and adds up the {@code dropped} counts the server reports.
 * With a delay per frame it is a deliberately slow reader (the overload bench), which makes the server drop.
 * It runs on Netty, one event-loop thread, so that the reader is not what limits the measured rate.
 */
final class WsSubscriber implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Receiver receiver;
    private final long delayMicrosPerFrame;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("bench-ws", true),
            NioIoHandler.newFactory());
    private final Payload payload = new Payload();
    private final CompletableFuture<Void> subscribed = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    final AtomicLong dropped = new AtomicLong();
    final AtomicLong droppedFrames = new AtomicLong();
    final AtomicLong frames = new AtomicLong();
    final AtomicLong messages = new AtomicLong();
    final AtomicLong unparsed = new AtomicLong();
    final AtomicReference<String> lastError = new AtomicReference<>();
    private volatile Channel channel;
    private volatile long lastFrameNanos = System.nanoTime();

    private WsSubscriber(Receiver receiver, long delayMicrosPerFrame) {
        this.receiver = receiver;
        this.delayMicrosPerFrame = delayMicrosPerFrame;
    }

    /** Connects, subscribes to {@code pattern} and waits for the {@code subscribed} answer. */
    static WsSubscriber open(String url, String pattern, Receiver receiver, long delayMicrosPerFrame) throws IOException {
        WsSubscriber s = new WsSubscriber(receiver, delayMicrosPerFrame);
        try {
            URI uri = URI.create(url);
            String sub = JSON.createObjectNode().put("op", "subscribe").put("pattern", pattern).toString();
            CompletableFuture<Void> handshaken = new CompletableFuture<>();
            Bootstrap b = new Bootstrap().group(s.group).channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65_536),
                                    new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory.newHandshaker(
                                            uri, WebSocketVersion.V13, null, false, new DefaultHttpHeaders(), 1 << 20)),
                                    s.new Frames(handshaken));
                        }
                    });
            s.channel = b.connect(uri.getHost(), uri.getPort()).sync().channel();
            s.channel.closeFuture().addListener(f -> s.onClosed("the connection closed"));
            handshaken.get(15, TimeUnit.SECONDS);
            s.channel.writeAndFlush(new TextWebSocketFrame(sub)).sync();
            s.subscribed.get(15, TimeUnit.SECONDS);
            return s;
        } catch (Exception e) {
            s.close();
            Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
            throw new IOException("WebSocket subscription on " + url.replaceAll("token=[^&]*", "token=<token>") + " failed: " + cause, cause);
        }
    }

    /** When the last frame arrived (System.nanoTime()). */
    long lastFrameNanos() {
        return lastFrameNanos;
    }

    boolean isOpen() {
        return !closed.isDone();
    }

    private final class Frames extends SimpleChannelInboundHandler<Object> {
        private final CompletableFuture<Void> handshaken;

        Frames(CompletableFuture<Void> handshaken) {
            this.handshaken = handshaken;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                handshaken.complete(null);
            } else if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_TIMEOUT) {
                handshaken.completeExceptionally(new IOException("WebSocket handshake timed out"));
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof TextWebSocketFrame text) {
                try {
                    handle(text.content().toString(StandardCharsets.UTF_8));
                } catch (RuntimeException e) {
                    unparsed.incrementAndGet();
                    lastError.set(e.toString());
                }
                if (delayMicrosPerFrame > 0) {
                    try {
                        TimeUnit.MICROSECONDS.sleep(delayMicrosPerFrame);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            } else if (msg instanceof CloseWebSocketFrame close) {
                onClosed("closed by the server: " + close.statusCode() + " " + close.reasonText());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            lastError.set(cause.toString());
            handshaken.completeExceptionally(cause);
            subscribed.completeExceptionally(cause);
            ctx.close();
        }
    }

    private void onClosed(String why) {
        closed.complete(null);
        subscribed.completeExceptionally(new IOException(why));
    }

    private void handle(CharSequence s) {
        frames.incrementAndGet();
        lastFrameNanos = System.nanoTime();
        int body = indexOf(s, "\"body\"");
        if (body >= 0 && payload.parse(s, body)) {
            messages.incrementAndGet();
            receiver.onSample(payload);
            return;
        }
        JsonNode n;
        try {
            n = JSON.readTree(s.toString());
        } catch (IOException e) {
            unparsed.incrementAndGet();
            return;
        }
        String type = n.path("type").asText("");
        switch (type) {
            case "subscribed" -> subscribed.complete(null);
            case "dropped" -> {
                dropped.addAndGet(n.path("count").asLong(0));
                droppedFrames.incrementAndGet();
            }
            case "message" -> {
                messages.incrementAndGet();
                JsonNode b = n.path("message").path("body");
                String text = b.isTextual() ? b.asText() : b.toString();
                if (payload.parse(text, 0)) {
                    receiver.onSample(payload);
                } else {
                    unparsed.incrementAndGet();
                }
            }
            case "error" -> {
                lastError.set(s.toString());
                subscribed.completeExceptionally(new IOException("the server answered: " + s));
            }
            default -> unparsed.incrementAndGet();
        }
    }

    private static int indexOf(CharSequence s, String what) {
        int n = s.length() - what.length();
        outer:
        for (int i = 0; i <= n; i++) {
            for (int j = 0; j < what.length(); j++) {
                if (s.charAt(i + j) != what.charAt(j)) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Override
    public void close() {
        Channel c = channel;
        if (c != null && c.isActive()) {
            try {
                c.writeAndFlush(new CloseWebSocketFrame(1000, "bench done")).await(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            c.close();
        }
        closed.complete(null);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
