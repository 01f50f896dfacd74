package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.config.JunctionConfig;
import io.junction.core.testing.Tools;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Real clients for end-to-end tests (of the spine and of each feature): HTTP, WebSocket and the mosquitto tools.
 * Requests are sent as the server's {@code admin}, whose password every test server gets from
 * {@code JUNCTION_ADMIN_PASSWORD} (set for tests in the parent POM, or passed in {@link #ENV}).
 */
public final class Clients {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** The first administrator's password of every server a test starts; the same as in the parent POM's surefire setup. */
    public static final String ADMIN_PASSWORD = "junction-test-admin";
    /** An environment for {@code Junction.configLoader(Clients.ENV)}: the server creates {@code admin} with {@link #ADMIN_PASSWORD}. */
    public static final Map<String, String> ENV = Map.of("JUNCTION_ADMIN_PASSWORD", ADMIN_PASSWORD);

    /**
     * The config of a server started in the test's own JVM: MQTT (anonymous) and HTTP on ports the system picks, on
     * 127.0.0.1, the data in {@code <dir>/data} with the given {@code fsync} ("always", "interval", "never"), then
     * {@code extra} TOML; the admin's password from {@link #ENV}; the engines of {@link EngineProfile} when a test run
     * selects them.
     */
    public static JunctionConfig config(Path dir, String fsync, String extra) {
        return Junction.configLoader(ENV).parse(dir.resolve("test.toml").toString(),
                baseToml(dir) + "fsync = \"" + fsync + "\"\n\n" + extra + "\n" + EngineProfile.toml(dir, extra));
    }

    /**
     * The {@code [mqtt]}, {@code [http]} and {@code [data]} sections of {@link #config}: anonymous MQTT and HTTP on
     * ports the system picks, on 127.0.0.1, the data in {@code <dir>/data}. It ends inside {@code [data]}, so that a
     * caller may add keys to that table.
     */
    public static String baseToml(Path dir) {
        return """
                [mqtt]
                port = 0
                host = "127.0.0.1"
                anonymous = true

                [http]
                port = 0
                host = "127.0.0.1"

                [data]
                dir = "%s"
                """.formatted(tomlPath(dir.resolve("data")));
    }

    /** A path as a TOML string's content. */
    public static String tomlPath(Path path) {
        return path.toString().replace("\\", "\\\\");
    }
    /** The admin's token by HTTP port, logged in once. */
    private static final Map<Integer, String> TOKENS = new ConcurrentHashMap<>();

    private Clients() {
    }

    record Reply(int status, JsonNode json, String text) {
    }

    static Reply get(int port, String pathAndQuery) throws IOException, InterruptedException {
        return reply(send(port, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET(), HttpResponse.BodyHandlers.ofString()));
    }

    static Reply post(int port, String path, String body) throws IOException, InterruptedException {
        return reply(send(port, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)), HttpResponse.BodyHandlers.ofString()));
    }

    /** The admin's token on the server at {@code port}: logged in once, then cached. */
    public static String token(int port) throws IOException, InterruptedException {
        String token = TOKENS.get(port);
        return token != null ? token : login(port);
    }

    /**
     * Logs in as {@code admin} and caches the token. Called again after a 401, because a server restarted on the same
     * port with a fresh data directory does not know the tokens of the one before.
     */
    public static String login(int port) throws IOException, InterruptedException {
        String body = Json.object().put("username", "admin").put("password", ADMIN_PASSWORD).toString();
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/auth/login"))
                .timeout(Duration.ofSeconds(20)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("logging in as admin on port " + port + " answered " + r.statusCode() + ": " + r.body()
                    + " (does the server get JUNCTION_ADMIN_PASSWORD=" + ADMIN_PASSWORD + ", e.g. from Clients.ENV?)");
        }
        String token = Json.parse(r.body()).get("token").asText();
        TOKENS.put(port, token);
        return token;
    }

    /**
     * Sends {@code request} with the admin's token in {@code Authorization: Bearer}; on a 401 logs in again once and
     * resends. Every test client sends through here.
     */
    public static <T> HttpResponse<T> send(int port, HttpRequest.Builder request, HttpResponse.BodyHandler<T> body)
            throws IOException, InterruptedException {
        HttpResponse<T> r = HTTP.send(request.setHeader("Authorization", "Bearer " + token(port)).build(), body);
        if (r.statusCode() == 401) {
            r = HTTP.send(request.setHeader("Authorization", "Bearer " + login(port)).build(), body);
        }
        return r;
    }

    /** {@code path} with the admin's token as {@code ?token=} (for WebSockets and for programs such as ffprobe). */
    public static String withToken(int port, String path) throws IOException, InterruptedException {
        return path + (path.contains("?") ? "&" : "?") + "token=" + URLEncoder.encode(token(port), StandardCharsets.UTF_8);
    }

    /**
     * Opens a WebSocket on {@code path} with the admin's token as {@code ?token=} (browsers cannot send headers on a
     * WebSocket, so tests use the query too); logs in again once when the upgrade is refused.
     */
    public static WebSocket openWebSocket(int port, String path, WebSocket.Listener listener) throws IOException, InterruptedException {
        try {
            return HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + withToken(port, path)), listener).join();
        } catch (CompletionException e) {
            if (!(e.getCause() instanceof WebSocketHandshakeException)) {
                throw e;
            }
            login(port);
            return HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + withToken(port, path)), listener).join();
        }
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
    public static Run mosquittoPub(int port, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("mosquitto_pub", "mosquitto-clients"),
                "-h", "127.0.0.1", "-p", String.valueOf(port)));
        cmd.addAll(List.of(args));
        return run(cmd, 20);
    }

    public record Run(int exit, String output) {
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
    public static final class Sub implements AutoCloseable {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        public Sub(int port, String... args) throws IOException {
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

        public String next(int seconds) throws InterruptedException {
            return lines.poll(seconds, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    /** Takes frames off {@code frames} until one matches, skipping the others; null after {@code seconds}. */
    public static JsonNode nextFrame(BlockingQueue<JsonNode> frames, java.util.function.Predicate<JsonNode> matches, int seconds)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            JsonNode f = frames.poll(left, TimeUnit.NANOSECONDS);
            if (f != null && matches.test(f)) {
                return f;
            }
        }
    }

    /** A WebSocket client on /api/ws that keeps every text frame as JSON. */
    public static final class Ws implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        final WebSocket socket;

        public Ws(int port) throws IOException, InterruptedException {
            socket = openWebSocket(port, "/api/ws", this);
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
            return nextFrame(frames, f -> type.equals(f.path("type").asText()) && matches.test(f), seconds);
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
