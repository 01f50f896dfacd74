package io.junction.server.ota;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.server.Clients;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/** A real HTTP client for the OTA routes, sending as the server's admin (see {@link Clients#send}). */
final class Http {

    record Reply(int status, JsonNode json, byte[] body, HttpResponse<byte[]> response) {
        String header(String name) {
            return response.headers().firstValue(name).orElse(null);
        }
    }

    private final int port;

    Http(int port) {
        this.port = port;
    }

    Reply get(String path, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = request(path).GET();
        headers.forEach(b::header);
        return send(b);
    }

    Reply get(String path) throws IOException, InterruptedException {
        return get(path, Map.of());
    }

    Reply post(String path, String json) throws IOException, InterruptedException {
        return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    Reply put(String path, String json) throws IOException, InterruptedException {
        return send(request(path).header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(json)));
    }

    Reply upload(String pathAndQuery, byte[] image) throws IOException, InterruptedException {
        return send(request(pathAndQuery).header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(image)));
    }

    Reply delete(String path) throws IOException, InterruptedException {
        return send(request(path).DELETE());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(20));
    }

    private Reply send(HttpRequest.Builder r) throws IOException, InterruptedException {
        HttpResponse<byte[]> res = Clients.send(port, r, HttpResponse.BodyHandlers.ofByteArray());
        JsonNode json = null;
        String type = res.headers().firstValue("content-type").orElse("");
        if (type.startsWith("application/json")) {
            json = Json.MAPPER.readTree(res.body());
        }
        return new Reply(res.statusCode(), json, res.body(), res);
    }
}
