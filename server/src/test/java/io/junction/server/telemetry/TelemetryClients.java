package io.junction.server.telemetry;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.testing.Tools;
import io.junction.server.Clients;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Real clients for the telemetry end-to-end tests: HTTP with headers, mosquitto_pub, and a WebSocket. */
final class TelemetryClients {

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
        return reply(Clients.send(port, b, HttpResponse.BodyHandlers.ofString()));
    }

    static Reply post(int port, String pathAndQuery, byte[] body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return reply(Clients.send(port, b, HttpResponse.BodyHandlers.ofString()));
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

}
