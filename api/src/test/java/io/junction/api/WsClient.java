package io.junction.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.awaitility.Awaitility.await;

/**
 * The JDK's WebSocket client, keeping every frame it receives. It asks for one frame at a time; after
 * {@link #pause()} it asks for no more, so the server sees a client that does not read.
 */
final class WsClient implements AutoCloseable {

    final WebSocket socket;
    final List<JsonNode> frames = new CopyOnWriteArrayList<>();
    private volatile boolean paused;
    private volatile boolean closedByServer;
    private volatile int closeCode;

    private WsClient(WebSocket socket) {
        this.socket = socket;
    }

    static WsClient connect(HttpClient http, URI uri) {
        Listener listener = new Listener();
        WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5)).buildAsync(uri, listener)
                .orTimeout(10, TimeUnit.SECONDS).join();
        WsClient client = new WsClient(ws);
        listener.client = client;
        synchronized (listener) {
            listener.notifyAll();
        }
        return client;
    }

    void send(String text) {
        socket.sendText(text, true).orTimeout(5, TimeUnit.SECONDS).join();
    }

    void subscribe(String pattern) {
        send("{\"op\":\"subscribe\",\"pattern\":\"" + pattern + "\"}");
        awaitFrame(f -> f.path("type").asText().equals("subscribed") && f.path("pattern").asText().equals(pattern));
    }

    /** Waits for a frame that satisfies {@code test} and returns the first one. */
    JsonNode awaitFrame(Predicate<JsonNode> test) {
        await().atMost(Duration.ofSeconds(10)).until(() -> frames.stream().anyMatch(test));
        return frames.stream().filter(test).findFirst().orElseThrow();
    }

    List<JsonNode> framesOfType(String type) {
        List<JsonNode> list = new ArrayList<>();
        for (JsonNode f : frames) {
            if (f.path("type").asText().equals(type)) {
                list.add(f);
            }
        }
        return list;
    }

    /** Stops asking for frames: the server's writes to this socket back up. */
    void pause() {
        paused = true;
    }

    /** Asks for every frame from now on. */
    void resume() {
        paused = false;
        socket.request(Long.MAX_VALUE);
    }

    boolean closedByServer() {
        return closedByServer;
    }

    int closeCode() {
        return closeCode;
    }

    @Override
    public void close() {
        socket.abort();
    }

    private static final class Listener implements WebSocket.Listener {
        volatile WsClient client;
        private final StringBuilder text = new StringBuilder();

        private WsClient client() {
            synchronized (this) {
                while (client == null) {
                    try {
                        wait(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }
            }
            return client;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                WsClient c = client();
                try {
                    c.frames.add(Json.parse(text.toString()));
                } catch (IOException e) {
                    throw new IllegalStateException("the server sent a frame that is not JSON: " + text, e);
                }
                text.setLength(0);
                if (!c.paused) {
                    webSocket.request(1);
                }
            } else {
                webSocket.request(1);
            }
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            WsClient c = client();
            c.closeCode = statusCode;
            c.closedByServer = true;
            return null;
        }
    }
}
