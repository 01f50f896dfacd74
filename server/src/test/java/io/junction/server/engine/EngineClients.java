package io.junction.server.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;

import io.junction.core.Json;
import io.junction.core.config.JunctionConfig;
import io.junction.core.testing.Tools;
import io.junction.server.Clients;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** Real clients for the engine's end-to-end tests: HTTP, WebSocket, mosquitto_pub and the HiveMQ MQTT client. */
final class EngineClients {

    private EngineClients() {
    }

    /** A server config for tests: ephemeral ports, anonymous MQTT, the data in {@code dir}, plus {@code extra} TOML. */
    static JunctionConfig config(Path dir, String extra) {
        return Clients.config(dir, "never", """
                [mapping.devices]
                "mesh/b5ea3f/42" = "bedroom.light"

                [mapping.subtopics]
                "M" = "brightness"

                %s
                """.formatted(extra));
    }

    record Reply(int status, JsonNode json, String text) {
    }

    static Reply get(int port, String path) throws IOException, InterruptedException {
        return send(port, HttpRequest.newBuilder(uri(port, path)).GET());
    }

    static Reply put(int port, String path, String body) throws IOException, InterruptedException {
        return send(port, HttpRequest.newBuilder(uri(port, path)).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)));
    }

    static Reply post(int port, String path, String body) throws IOException, InterruptedException {
        return send(port, HttpRequest.newBuilder(uri(port, path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    static Reply delete(int port, String path) throws IOException, InterruptedException {
        return send(port, HttpRequest.newBuilder(uri(port, path)).DELETE());
    }

    /** Stores a script through the API and checks it was accepted. */
    static JsonNode putScript(int port, String name, String language, String source, String... bind)
            throws IOException, InterruptedException {
        var body = Json.object().put("language", language).put("source", source);
        var b = body.putArray("bind");
        for (String p : bind) {
            b.add(p);
        }
        Reply r = put(port, "/api/scripts/" + name, body.toString());
        if (r.status() != 200 && r.status() != 201) {
            throw new AssertionError("PUT /api/scripts/" + name + " answered " + r.status() + ": " + r.text());
        }
        return r.json();
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static Reply send(int port, HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpResponse<String> r = Clients.send(port, b.timeout(Duration.ofSeconds(60)), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        if (!r.body().isEmpty()) {
            try {
                json = Json.parse(r.body());
            } catch (IOException e) {
                // not JSON
            }
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    /** Every message of the processed stream from {@code from} on, paging through the API. */
    static List<JsonNode> processed(int port, long from) throws IOException, InterruptedException {
        List<JsonNode> all = new ArrayList<>();
        long at = from;
        while (true) {
            Reply r = get(port, "/api/streams/processed?from=" + at + "&limit=10000");
            if (r.status() != 200) {
                throw new AssertionError("GET /api/streams/processed answered " + r.status() + ": " + r.text());
            }
            JsonNode messages = r.json().get("messages");
            if (messages.isEmpty()) {
                return all;
            }
            messages.forEach(all::add);
            at = r.json().get("next").asLong();
        }
    }

    static void mosquittoPub(int port, String topic, String message) throws IOException, InterruptedException {
        List<String> cmd = List.of(Tools.require("mosquitto_pub", "mosquitto-clients"), "-h", "127.0.0.1",
                "-p", String.valueOf(port), "-q", "1", "-t", topic, "-m", message);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("mosquitto_pub did not finish in 20 s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new AssertionError("mosquitto_pub exited with " + p.exitValue() + ": " + out);
        }
    }

    /** An MQTT 5 device connection (HiveMQ client) that publishes at QoS 1 with a bounded number in flight. */
    static final class Device implements AutoCloseable {
        private final Mqtt5AsyncClient client;
        private final Semaphore window = new Semaphore(128);

        Device(int port, String id) {
            client = MqttClient.builder().useMqttVersion5().identifier(id).serverHost("127.0.0.1").serverPort(port)
                    .buildAsync();
            client.connect().join();
        }

        /** Publishes and returns once the server acknowledged every publish made so far that it had room for. */
        CompletableFuture<?> publish(String topic, String payload) throws InterruptedException {
            window.acquire();
            return client.publishWith().topic(topic).qos(MqttQos.AT_LEAST_ONCE)
                    .payload(payload.getBytes(StandardCharsets.UTF_8)).send()
                    .whenComplete((r, e) -> window.release());
        }

        /** Waits until every publish is acknowledged. */
        void drain() throws InterruptedException {
            window.acquire(128);
            window.release(128);
        }

        @Override
        public void close() {
            client.disconnect().join();
        }
    }

}
