package io.junction.api;

import io.junction.core.testing.MemoryStream;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.testing.MutableClock;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;

/** A real {@link ApiServer} on an ephemeral port, over in-memory ports, and a real HTTP client for it. */
final class Fixture implements AutoCloseable {

    final MutableClock clock = new MutableClock(Instant.parse("2026-11-23T10:00:00Z"));
    final MemoryStream raw = new MemoryStream("raw");
    final TestPorts.Status status = new TestPorts.Status();
    final TestPorts.Devices devices = new TestPorts.Devices();
    final TestPorts.Commands commands = new TestPorts.Commands(raw, clock);
    final EventHub hub = new EventHub(clock);
    final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final RouteTable routes = new RouteTable();
    final ApiServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Fixture() {
        this(64, 1024 * 1024, t -> { });
    }

    Fixture(int liveQueue, int maxBodyBytes, Consumer<RouteTable> moreRoutes) {
        SpineRoutes.builder().stream(raw).status(status).devices(devices).commands(commands).hub(hub).clock(clock)
                .commandTimeout(Duration.ofSeconds(2)).build().register(routes);
        moreRoutes.accept(routes);
        server = ApiServer.builder().host("127.0.0.1").port(0).routes(routes).hub(hub).metrics(metrics)
                .liveStream(raw).liveQueue(liveQueue).maxBodyBytes(maxBodyBytes).start();
    }

    URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + server.port() + pathAndQuery);
    }

    HttpResponse<String> get(String pathAndQuery) {
        return send(HttpRequest.newBuilder(uri(pathAndQuery)).GET());
    }

    HttpResponse<String> post(String path, String body) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError("HTTP request failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return Json.parse(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + response.body(), e);
        }
    }

    /** Appends a status message to the raw stream at the clock's time. */
    Message append(String key, String body) {
        Message m = TestPorts.message(clock, key, Message.STATUS, body);
        raw.append(m).join();
        return m;
    }

    WsClient ws() {
        return WsClient.connect(http, URI.create("ws://127.0.0.1:" + server.port() + ApiServer.WEBSOCKET_PATH));
    }

    /** The value of a gauge or counter without tags. */
    double meter(String name) {
        return metrics.get(name).meter().measure().iterator().next().getValue();
    }

    @Override
    public void close() {
        server.close();
        hub.close();
        metrics.close();
    }
}
