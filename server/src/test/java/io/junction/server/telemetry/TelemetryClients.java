package io.junction.server.telemetry;

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

/** Real clients for the telemetry end-to-end tests: HTTP with headers, mosquitto_pub, and a WebSocket. */
final class TelemetryClients {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TelemetryClients() {
    }

    record Reply(int status, String contentType, String text) {
        JsonNode json() {
            try {
                return Json.parse(text);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + text, e);
            }
        }
    }

    static Reply get(int port, String pathAndQuery, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(20)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return reply(HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString()));
    }

    static Reply post(int port, String pathAndQuery, byte[] body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return reply(HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString()));
    }

    static Reply post(int port, String pathAndQuery, String body) throws IOException, InterruptedException {
        return post(port, pathAndQuery, body.getBytes(StandardCharsets.UTF_8), "Content-Type", "text/plain; charset=utf-8");
    }

    private static Reply reply(HttpResponse<String> r) {
        return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
    }

    /** Runs mosquitto_pub with the given arguments; returns its exit code. */
    static int mosquittoPub(int port, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("mosquitto_pub", "mosquitto-clients"),
                "-h", "127.0.0.1", "-p", String.valueOf(port)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish in 20 s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
        }
        return p.exitValue();
    }

    /** A WebSocket client on /api/ws that keeps every text frame as JSON. */
    static final class Ws implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        final WebSocket socket;

        Ws(int port) {
            socket = HTTP.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/api/ws"), this).join();
        }

        void send(String text) {
            socket.sendText(text, true).join();
        }

        /** The next frame of the given type, skipping others, or null after the timeout. */
        JsonNode next(String type, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                JsonNode f = frames.poll(left, TimeUnit.NANOSECONDS);
                if (f != null && type.equals(f.path("type").asText())) {
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
