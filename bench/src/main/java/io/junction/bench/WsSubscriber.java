package io.junction.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A live subscriber on Junction's WebSocket ({@code {"op":"subscribe","pattern":"#"}}): reads message frames, takes the
 * bench payload out of their body for the {@link Receiver}, and adds up the {@code dropped} counts the server reports.
 * With a delay per frame it is a deliberately slow reader (the overload bench), which makes the server drop.
 */
final class WsSubscriber implements WebSocket.Listener, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DEMAND = 16;

    private final Receiver receiver;
    private final long delayMicrosPerFrame;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "bench-ws");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient client = HttpClient.newBuilder().executor(executor).build();
    private final Payload payload = new Payload();
    private final StringBuilder frame = new StringBuilder(1024);
    private final CompletableFuture<Void> subscribed = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    final AtomicLong dropped = new AtomicLong();
    final AtomicLong droppedFrames = new AtomicLong();
    final AtomicLong frames = new AtomicLong();
    final AtomicLong messages = new AtomicLong();
    final AtomicLong unparsed = new AtomicLong();
    final AtomicReference<String> lastError = new AtomicReference<>();
    private volatile WebSocket ws;
    private volatile long lastFrameNanos = System.nanoTime();

    private WsSubscriber(Receiver receiver, long delayMicrosPerFrame) {
        this.receiver = receiver;
        this.delayMicrosPerFrame = delayMicrosPerFrame;
    }

    /** Connects, subscribes to {@code pattern} and waits for the {@code subscribed} answer. */
    static WsSubscriber open(String url, String pattern, Receiver receiver, long delayMicrosPerFrame) throws IOException {
        WsSubscriber s = new WsSubscriber(receiver, delayMicrosPerFrame);
        try {
            s.ws = s.client.newWebSocketBuilder()
                    .connectTimeout(Duration.ofSeconds(10))
                    .buildAsync(URI.create(url), s)
                    .get(15, TimeUnit.SECONDS);
            String sub = JSON.createObjectNode().put("op", "subscribe").put("pattern", pattern).toString();
            s.ws.sendText(sub, true).get(10, TimeUnit.SECONDS);
            s.subscribed.get(15, TimeUnit.SECONDS);
            return s;
        } catch (Exception e) {
            s.close();
            Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
            throw new IOException("WebSocket subscription on " + url + " failed: " + cause, cause);
        }
    }

    /** When the last frame arrived (System.nanoTime()). */
    long lastFrameNanos() {
        return lastFrameNanos;
    }

    boolean isOpen() {
        return !closed.isDone();
    }

    @Override
    public void onOpen(WebSocket webSocket) {
        webSocket.request(DEMAND);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        frame.append(data);
        if (last) {
            try {
                handle(frame);
            } catch (RuntimeException e) {
                unparsed.incrementAndGet();
                lastError.set(e.toString());
            }
            frame.setLength(0);
            if (delayMicrosPerFrame > 0) {
                try {
                    TimeUnit.MICROSECONDS.sleep(delayMicrosPerFrame);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        webSocket.request(1);
        return null;
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
    public void onError(WebSocket webSocket, Throwable error) {
        lastError.set(error.toString());
        subscribed.completeExceptionally(error);
        closed.complete(null);
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closed.complete(null);
        subscribed.completeExceptionally(new IOException("closed by the server: " + statusCode + " " + reason));
        return null;
    }

    @Override
    public void close() {
        WebSocket w = ws;
        if (w != null && !closed.isDone()) {
            try {
                w.sendClose(WebSocket.NORMAL_CLOSURE, "bench done").get(3, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // closing anyway
            }
            w.abort();
        }
        closed.complete(null);
        executor.shutdownNow();
        client.shutdownNow();
    }
}
