package io.junction.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.http.Access;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.http.SocketEndpoint;
import io.junction.core.hub.EventHub;
import io.junction.core.testing.MemoryStream;
import io.junction.core.testing.MutableClock;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The HTTP endpoint with an {@link Authenticator}: a real {@link ApiServer} and the JDK's HTTP and WebSocket clients.
 * Three tokens stand for a user, a support engineer and an administrator.
 */
class AuthenticationTest {

    private static final Map<String, Principal> TOKENS = Map.of(
            "user-token", new Principal("ursula", Role.USER),
            "support-token", new Principal("sam", Role.SUPPORT),
            "admin-token", new Principal("ada", Role.ADMINISTRATOR));

    private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    private final EventHub hub = new EventHub(clock);
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** What the socket endpoint saw: the caller of each socket it opened. */
    private final List<Optional<Principal>> socketCallers = new CopyOnWriteArrayList<>();
    private ApiServer server;

    @BeforeEach
    void start() {
        MemoryStream raw = new MemoryStream("raw");
        RouteTable routes = new RouteTable();
        SpineRoutes.builder().stream(raw).status(new TestPorts.Status()).devices(new TestPorts.Devices())
                .commands(new TestPorts.Commands(raw, clock)).hub(hub).clock(clock).build().register(routes);
        routes.add(Method.GET, "/api/things", r -> ApiResponse.json(Map.of("caller", r.caller().orElseThrow().user())));
        routes.add(Method.POST, "/api/things", r -> ApiResponse.json(201, Map.of("by", r.caller().orElseThrow().user())));
        routes.add(Method.DELETE, "/api/things/{id}", Access.ADMINISTRATOR, r -> ApiResponse.status(204));
        routes.add(Method.GET, "/api/open", Access.OPEN,
                r -> ApiResponse.json(Map.of("caller", r.caller().map(Principal::user).orElse("anonymous"))));
        SocketEndpoint echo = session -> {
            socketCallers.add(session.caller());
            session.send(Json.object().put("hello", session.caller().map(Principal::user).orElse("anonymous"))
                    .put("role", session.caller().map(p -> p.role().id()).orElse("none")).toString());
            return new SocketEndpoint.SocketListener() {
                @Override
                public void onText(String text) {
                    session.send(text);
                }

                @Override
                public void onClose() {
                }
            };
        };
        routes.socket("/api/echo", Access.USER, echo);
        routes.socket("/api/support-echo", Access.SUPPORT, echo);
        Authenticator authenticator = token -> Optional.ofNullable(TOKENS.get(token));
        server = ApiServer.builder().host("127.0.0.1").port(0).routes(routes).hub(hub).metrics(metrics)
                .liveStream(raw).authenticator(authenticator).start();
    }

    @AfterEach
    void stop() {
        server.close();
        hub.close();
        metrics.close();
    }

    private URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + server.port() + pathAndQuery);
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
        return http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String pathAndQuery, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(pathAndQuery)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return send(b);
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        return Json.parse(r.body());
    }

    @Test
    void aRequestWithoutATokenIsRefusedWith401ThatSaysHowToLogIn() throws Exception {
        HttpResponse<String> r = get("/api/things");

        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.headers().firstValue("WWW-Authenticate")).contains("Bearer");
        assertThat(json(r).get("error").asText()).isEqualTo("unauthorized");
        assertThat(json(r).get("detail").asText()).contains("needs a token", "POST /api/auth/login", "Authorization: Bearer");
        assertThat(send(HttpRequest.newBuilder(uri("/api/things")).POST(HttpRequest.BodyPublishers.ofString("{}"))).statusCode())
                .isEqualTo(401);
        assertThat(get("/api/devices").statusCode()).isEqualTo(401);
    }

    @Test
    void anUnknownTokenIsRefusedWith401() throws Exception {
        HttpResponse<String> r = get("/api/things", "Authorization", "Bearer not-a-token");

        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(json(r).get("detail").asText()).contains("unknown, expired or revoked");
        assertThat(get("/api/things?token=not-a-token").statusCode()).isEqualTo(401);
        assertThat(get("/api/things", "Authorization", "Basic dXNlcjpwYXNz").statusCode()).isEqualTo(401);
    }

    @Test
    void aRoleBelowWhatTheRouteNeedsIsRefusedWith403() throws Exception {
        HttpResponse<String> post = send(HttpRequest.newBuilder(uri("/api/things")).header("Authorization", "Bearer user-token")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(post.statusCode()).isEqualTo(403);
        assertThat(json(post).get("detail").asText()).contains("POST /api/things needs the role support", "'ursula' has user");

        HttpResponse<String> delete = send(HttpRequest.newBuilder(uri("/api/things/1")).header("Authorization", "Bearer support-token").DELETE());
        assertThat(delete.statusCode()).isEqualTo(403);
        assertThat(json(delete).get("detail").asText()).contains("needs the role administrator");

        HttpResponse<String> bySupport = send(HttpRequest.newBuilder(uri("/api/things")).header("Authorization", "Bearer support-token")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(bySupport.statusCode()).isEqualTo(201);
        assertThat(json(bySupport).get("by").asText()).isEqualTo("sam");
        assertThat(send(HttpRequest.newBuilder(uri("/api/things/1")).header("Authorization", "Bearer admin-token").DELETE())
                .statusCode()).isEqualTo(204);
    }

    @Test
    void openRoutesAnswerWithoutAToken() throws Exception {
        HttpResponse<String> open = get("/api/open");
        assertThat(open.statusCode()).isEqualTo(200);
        assertThat(json(open).get("caller").asText()).isEqualTo("anonymous");
        assertThat(json(get("/api/open", "Authorization", "Bearer admin-token")).get("caller").asText()).isEqualTo("ada");
        assertThat(get("/api/open", "Authorization", "Bearer not-a-token").statusCode()).isEqualTo(200);

        assertThat(get("/api/health").statusCode()).isEqualTo(200);
        assertThat(get("/metrics").statusCode()).isEqualTo(200);
    }

    @Test
    void theTokenIsTakenFromTheBearerHeaderOrTheQuery() throws Exception {
        assertThat(json(get("/api/things", "Authorization", "Bearer user-token")).get("caller").asText()).isEqualTo("ursula");
        assertThat(json(get("/api/things", "Authorization", "bearer user-token")).get("caller").asText()).isEqualTo("ursula");
        assertThat(json(get("/api/things?token=support-token")).get("caller").asText()).isEqualTo("sam");
        assertThat(json(get("/api/things?bearer_token=admin-token")).get("caller").asText()).isEqualTo("ada");
    }

    @Test
    void theLiveWebSocketNeedsAToken() throws Exception {
        URI ws = URI.create("ws://127.0.0.1:" + server.port() + ApiServer.WEBSOCKET_PATH);

        assertUpgradeRefused(ws, Map.of());
        assertUpgradeRefused(URI.create(ws + "?token=not-a-token"), Map.of());

        try (WsClient client = WsClient.connect(http, URI.create(ws + "?token=user-token"))) {
            client.subscribe("#");
        }
        WebSocket byHeader = http.newWebSocketBuilder().header("Authorization", "Bearer user-token")
                .buildAsync(ws, new WebSocket.Listener() { }).orTimeout(10, TimeUnit.SECONDS).join();
        byHeader.abort();
    }

    @Test
    void aFeaturesSocketGetsItsCallerAndRefusesThoseWithoutTheRole() throws Exception {
        String base = "ws://127.0.0.1:" + server.port();

        assertUpgradeRefused(URI.create(base + "/api/echo"), Map.of());
        assertUpgradeRefused(URI.create(base + "/api/support-echo?token=user-token"), Map.of());
        assertThat(socketCallers).isEmpty();

        Frames frames = new Frames();
        WebSocket socket = http.newWebSocketBuilder().buildAsync(URI.create(base + "/api/echo?token=support-token"), frames)
                .orTimeout(10, TimeUnit.SECONDS).join();
        JsonNode hello = frames.next();
        assertThat(hello.get("hello").asText()).isEqualTo("sam");
        assertThat(hello.get("role").asText()).isEqualTo("support");
        socket.sendText("{\"ping\":1}", true).orTimeout(5, TimeUnit.SECONDS).join();
        assertThat(frames.next().get("ping").asInt()).isEqualTo(1);
        socket.abort();
        assertThat(socketCallers).containsExactly(Optional.of(new Principal("sam", Role.SUPPORT)));

        Frames more = new Frames();
        WebSocket admin = http.newWebSocketBuilder().buildAsync(URI.create(base + "/api/support-echo?bearer_token=admin-token"), more)
                .orTimeout(10, TimeUnit.SECONDS).join();
        assertThat(more.next().get("hello").asText()).isEqualTo("ada");
        admin.abort();
    }

    /** Keeps the text frames a socket receives (the server speaks first on these sockets). */
    private static final class Frames implements WebSocket.Listener {
        private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                queue.add(partial.toString());
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        JsonNode next() throws Exception {
            String text = queue.poll(10, TimeUnit.SECONDS);
            assertThat(text).as("a frame within 10 s").isNotNull();
            return Json.parse(text);
        }
    }

    private void assertUpgradeRefused(URI uri, Map<String, String> headers) {
        WebSocket.Builder b = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        headers.forEach(b::header);
        assertThatThrownBy(() -> b.buildAsync(uri, new WebSocket.Listener() { }).orTimeout(10, TimeUnit.SECONDS).join())
                .as("the upgrade of " + uri + " is refused")
                .isInstanceOf(CompletionException.class)
                .satisfies(e -> {
                    assertThat(e.getCause()).isInstanceOf(WebSocketHandshakeException.class);
                    int status = ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode();
                    assertThat(status).isBetween(400, 499);
                });
    }
}
