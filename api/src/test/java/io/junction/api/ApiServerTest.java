package io.junction.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ApiServerTest {

    private Fixture f;

    private Fixture start(RouteTableSetup extra) {
        f = new Fixture(64, 1024, extra::add);
        return f;
    }

    private interface RouteTableSetup {
        void add(RouteTable t);
    }

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void unknownRouteIs404WithAJsonError() {
        start(t -> { });
        HttpResponse<String> r = f.get("/api/nope");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(Fixture.json(r)).isEqualTo(Json.object().put("error", "not found").put("detail", "no route for GET /api/nope"));
    }

    @Test
    void wrongMethodIs405NamingTheAllowedOnes() {
        start(t -> { });
        HttpResponse<String> r = f.send(HttpRequest.newBuilder(f.uri("/api/health")).DELETE());
        assertThat(r.statusCode()).isEqualTo(405);
        assertThat(r.headers().firstValue("allow")).hasValue("GET");
        JsonNode body = Fixture.json(r);
        assertThat(body.get("error").asText()).isEqualTo("method not allowed");
        assertThat(body.get("detail").asText()).contains("DELETE").contains("/api/health").contains("GET");
    }

    @Test
    void headIsAnsweredByTheGetRouteWithoutTheBody() {
        start(t -> t.add(Method.GET, "/api/file", r -> ApiResponse.text(200, "video/mp2t", "0123456789")
                .withHeader("Cache-Control", "max-age=60")));
        HttpResponse<String> r = f.send(HttpRequest.newBuilder(f.uri("/api/file")).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("video/mp2t");
        assertThat(r.headers().firstValue("content-length")).hasValue("10");
        assertThat(r.headers().firstValue("cache-control")).hasValue("max-age=60");
        assertThat(r.body()).isEmpty();
        HttpResponse<String> notAllowed = f.send(HttpRequest.newBuilder(f.uri("/api/health")).method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
        assertThat(notAllowed.statusCode()).as("OPTIONS only where a route answers it").isEqualTo(405);
    }

    @Test
    void anOptionsRouteAnswersPreflights() {
        start(t -> t.add(Method.OPTIONS, "/api/file", r -> ApiResponse.status(204)
                .withHeader("Access-Control-Allow-Origin", "*")));
        HttpResponse<String> r = f.send(HttpRequest.newBuilder(f.uri("/api/file")).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://player.example"));
        assertThat(r.statusCode()).isEqualTo(204);
        assertThat(r.headers().firstValue("access-control-allow-origin")).hasValue("*");
    }

    @Test
    void pathParamsQueryHeadersAndBodyReachTheHandler() {
        start(t -> t.add(Method.PUT, "/api/echo/{name}/{n}", r -> ApiResponse.json(Json.object()
                .put("name", r.pathParam("name"))
                .put("n", r.pathParam("n"))
                .put("x", String.join(",", r.query().get("x")))
                .put("header", r.header("X-Test").orElse("-"))
                .put("path", r.path())
                .set("body", r.bodyJson()))));
        HttpResponse<String> r = f.send(HttpRequest.newBuilder(f.uri("/api/echo/living%20room/7?x=1&x=two%20words"))
                .header("X-Test", "yes").PUT(HttpRequest.BodyPublishers.ofString("{\"a\":[1,2]}")));
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode body = Fixture.json(r);
        assertThat(body.get("name").asText()).isEqualTo("living room");
        assertThat(body.get("n").asText()).isEqualTo("7");
        assertThat(body.get("x").asText()).isEqualTo("1,two words");
        assertThat(body.get("header").asText()).isEqualTo("yes");
        assertThat(body.get("path").asText()).isEqualTo("/api/echo/living room/7");
        assertThat(body.get("body").toString()).isEqualTo("{\"a\":[1,2]}");
    }

    @Test
    void undecodableQueryIs400() throws Exception {
        start(t -> t.add(Method.GET, "/api/echo", r -> ApiResponse.json(Json.object().put("q", r.query("q").orElse("-")))));
        // java.net.http refuses to send such a URI, so this one goes over a plain socket.
        try (Socket socket = new Socket("127.0.0.1", f.server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /api/echo?q=%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 400").contains("{\"error\":\"bad request\"");
        }
    }

    @Test
    void badJsonBodyIs400SayingWhere() {
        start(t -> t.add(Method.POST, "/api/echo", r -> ApiResponse.json(r.bodyJson())));
        HttpResponse<String> r = f.post("/api/echo", "{\"a\": }");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Fixture.json(r).get("detail").asText()).contains("not valid JSON").contains("line 1");
        assertThat(f.post("/api/echo", "{} {}").statusCode()).isEqualTo(400);
        assertThat(f.post("/api/echo", "").statusCode()).isEqualTo(400);
    }

    @Test
    void apiExceptionFromAHandlerIsRenderedAsItSays() {
        start(t -> t.add(Method.GET, "/api/conflict", r -> {
            throw new ApiException(409, "conflict", "the job 'water' is already running");
        }));
        HttpResponse<String> r = f.get("/api/conflict");
        assertThat(r.statusCode()).isEqualTo(409);
        assertThat(Fixture.json(r)).isEqualTo(Json.object().put("error", "conflict").put("detail", "the job 'water' is already running"));
    }

    @Test
    void unexpectedExceptionIs500WithAGenericDetail() {
        start(t -> t.add(Method.GET, "/api/boom", r -> {
            throw new IllegalStateException("secret internals");
        }));
        HttpResponse<String> r = f.get("/api/boom");
        assertThat(r.statusCode()).isEqualTo(500);
        JsonNode body = Fixture.json(r);
        assertThat(body.get("error").asText()).isEqualTo("internal error");
        assertThat(body.get("detail").asText()).contains("GET /api/boom").contains("ref").doesNotContain("secret");
    }

    @Test
    void bodyOverTheLimitIs413WhetherItsLengthIsDeclaredOrNot() {
        start(t -> t.add(Method.POST, "/api/echo", r -> ApiResponse.json(Json.object().put("bytes", r.body().length))));
        byte[] big = new byte[5000];
        HttpResponse<String> declared = f.send(HttpRequest.newBuilder(f.uri("/api/echo")).POST(HttpRequest.BodyPublishers.ofByteArray(big)));
        assertThat(declared.statusCode()).isEqualTo(413);
        assertThat(Fixture.json(declared).get("error").asText()).isEqualTo("payload too large");
        assertThat(Fixture.json(declared).get("detail").asText()).contains("1024");

        HttpResponse<String> chunked = f.send(HttpRequest.newBuilder(f.uri("/api/echo"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))));
        assertThat(chunked.statusCode()).isEqualTo(413);

        HttpResponse<String> small = f.post("/api/echo", "x".repeat(1024));
        assertThat(small.statusCode()).isEqualTo(200);
        assertThat(Fixture.json(small).get("bytes").asInt()).isEqualTo(1024);
    }

    @Test
    void plainGetOnTheWebSocketPathIs426() {
        start(t -> { });
        HttpResponse<String> r = f.get("/api/ws");
        assertThat(r.statusCode()).isEqualTo(426);
        assertThat(Fixture.json(r).get("detail").asText()).contains("WebSocket");
    }

    @Test
    void metricsEndpointShowsPrometheusTextWithTheApisMeters() {
        start(t -> { });
        f.append("bedroom.light.brightness", "{\"value\":1}");
        f.get("/api/nope");
        HttpResponse<String> r = f.get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(r.body())
                .contains("junction_live_clients ")
                .contains("junction_live_queued ")
                .contains("junction_live_dropped_total ")
                .contains("junction_live_bad_frames_total ")
                .contains("junction_stream_size_bytes{stream=\"raw\"}")
                .contains("junction_stream_end_offset{stream=\"raw\"} 1.0")
                .contains("junction_http_requests_total{status=\"404\"} 1.0");
    }

    @Test
    void bindFailureNamesHostPortAndReason() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
             EventHub hub = new EventHub(Clock.systemUTC())) {
            PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> ApiServer.builder().host("127.0.0.1").port(port).routes(new RouteTable())
                    .hub(hub).metrics(metrics).start())
                    .hasMessageContaining("127.0.0.1:" + port)
                    .hasMessageContaining("in use");
        }
    }

    @Test
    void routesOfOtherModulesAreServedBesideTheSpines() {
        start(t -> t.add(Method.GET, "/api/ota/packages", r -> ApiResponse.json(Json.object().set("packages", Json.MAPPER.valueToTree(List.of())))));
        assertThat(f.get("/api/ota/packages").body()).isEqualTo("{\"packages\":[]}");
        assertThat(f.get("/api/health").statusCode()).isEqualTo(200);
    }
}
