package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.testing.Tools;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Real clients for end-to-end tests (of the spine and of each feature): HTTP, WebSocket and the mosquitto tools. */
public final class Clients {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Clients() {
    }

    record Reply(int status, JsonNode json, String text) {
    }

    static Reply get(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        return reply(r);
    }

    static Reply post(int port, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        return reply(r);
    }

    private static Reply reply(HttpResponse<String> r) {
        JsonNode json = null;
        try {
            json = Json.parse(r.body());
        } catch (IOException e) {
            // not JSON (e.g. /metrics)
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    /** Runs mosquitto_pub with the given arguments and returns its exit code and output. */
    static Run mosquittoPub(int port, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("mosquitto_pub", "mosquitto-clients"),
                "-h", "127.0.0.1", "-p", String.valueOf(port)));
        cmd.addAll(List.of(args));
        return run(cmd, 20);
    }

    record Run(int exit, String output) {
    }

    static Run run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /** A mosquitto_sub process collecting what arrives, one line per message. */
    static final class Sub implements AutoCloseable {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Sub(int port, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Tools.require("mosquitto_sub", "mosquitto-clients"),
                    "-h", "127.0.0.1", "-p", String.valueOf(port)));
            cmd.addAll(List.of(args));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            Thread.ofVirtual().start(() -> {
                try (var reader = process.inputReader(StandardCharsets.UTF_8)) {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // process ended
                }
            });
        }

        String next(int seconds) throws InterruptedException {
            return lines.poll(seconds, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    /** A WebSocket client on /api/ws that keeps every text frame as JSON. */
    public static final class Ws implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        final WebSocket socket;

        public Ws(int port) {
            socket = HTTP.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/api/ws"), this).join();
        }

        public void send(String text) {
            socket.sendText(text, true).join();
        }

        /** The next frame of the given type, skipping others, or null after the timeout. */
        public JsonNode next(String type, int seconds) throws InterruptedException {
            return next(type, f -> true, seconds);
        }

        /** The next frame of {@code type} for which {@code matches} holds, skipping others, or null after the timeout. */
        public JsonNode next(String type, java.util.function.Predicate<JsonNode> matches, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                JsonNode f = frames.poll(left, TimeUnit.NANOSECONDS);
                if (f != null && type.equals(f.path("type").asText()) && matches.test(f)) {
                    return f;
                }
            }
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    frames.add(Json.parse(partial.toString()));
                } catch (IOException e) {
                    throw new AssertionError("the server sent a frame that is not JSON: " + partial, e);
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public void close() {
            socket.abort();
        }
    }
}
