package io.junction.server.devices;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.config.JunctionConfig;
import io.junction.server.Clients;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/** Real clients for the devices' end-to-end tests: REST with a token, and the real-time (PlaceOS) WebSocket. */
final class DevicesClients {

    /** The admin's password: the one the test environment gives every server (see {@link Clients#ENV}). */
    static final String ADMIN_PASSWORD = Clients.ADMIN_PASSWORD;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private DevicesClients() {
    }

    /** A server config on free ports, a light on the mesh mapped to bedroom.light, and a generic MQTT light driver. */
    static JunctionConfig config(Path dir, String extra) {
        return Clients.config(dir, "never", """
                [mapping.devices]
                "mesh/b5ea3f/42" = "bedroom.light"

                [[drivers]]
                id = "light"
                name = "Light"
                implements = ["Powerable"]
                status = { power = "{room}.light.power", brightness = "{room}.light.brightness" }
                [drivers.functions.power]
                key = "{room}.light.power"
                params = { state = "Bool" }
                payload = "state"

                %s
                """.formatted(extra));
    }

    record Reply(int status, JsonNode json, String text) {
    }

    static String login(int port, String user, String password) throws IOException, InterruptedException {
        Reply r = call(port, "POST", "/api/auth/login", Json.object().put("username", user).put("password", password).toString(), null);
        if (r.status() != 200) {
            throw new AssertionError("login of " + user + " failed: " + r.status() + " " + r.text());
        }
        return r.json().path("token").asText();
    }

    static Reply call(int port, String method, String path, String body, String token) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(15))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        try {
            json = r.body().isEmpty() ? null : Json.parse(r.body());
        } catch (IOException e) {
            // not JSON
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    /** A client of the real-time WebSocket, keeping every frame. */
    static final class Realtime implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        private final AtomicInteger ids = new AtomicInteger();
        final WebSocket socket;

        Realtime(int port, String token) {
            socket = HTTP.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port
                    + "/api/engine/v2/websocket?bearer_token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)), this).join();
        }

        /** Sends a request and returns its id. */
        int request(String cmd, String sys, String mod, int index, String name, JsonNode args) {
            int id = ids.incrementAndGet();
            var req = Json.object().put("id", id).put("cmd", cmd).put("sys", sys).put("mod", mod).put("index", index).put("name", name);
            if (args != null) {
                req.set("args", args);
            }
            socket.sendText(req.toString(), true).join();
            return id;
        }

        /** The answer (success or error) to request {@code id}. */
        JsonNode answer(int id, int seconds) throws InterruptedException {
            return next(f -> f.path("id").asInt(-1) == id && !f.path("type").asText().equals("notify"), seconds);
        }

        /** The next notify of the binding (mod, name), its value parsed from JSON text. */
        JsonNode notifyValue(String mod, String name, int seconds) throws InterruptedException, IOException {
            JsonNode f = next(n -> n.path("type").asText().equals("notify") && n.path("meta").path("mod").asText().equals(mod)
                    && n.path("meta").path("name").asText().equals(name), seconds);
            return f == null ? null : Json.parse(f.path("value").asText());
        }

        JsonNode next(Predicate<JsonNode> matches, int seconds) throws InterruptedException {
            return Clients.nextFrame(frames, matches, seconds);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                try {
                    frames.add(text.equals("pong") ? Json.object().put("type", "pong") : Json.parse(text));
                } catch (IOException e) {
                    throw new AssertionError("the server sent a frame that is not JSON: " + text, e);
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public void close() {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
        }
    }
}
