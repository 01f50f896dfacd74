package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.auth.PasswordHash;
import io.junction.core.config.JunctionConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The spine end to end: real MQTT clients, real HTTP and WebSocket clients, one real server. */
class SpineTest {

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(SpineTest::config);

    static JunctionConfig config() {
        String alice = PasswordHash.hash("alice-pw".toCharArray(), 1000);
        String bob = PasswordHash.hash("bob-pw".toCharArray(), 1000);
        return Junction.configLoader(Clients.ENV).parse("spine.toml", """
                [mqtt]
                port = 0
                host = "127.0.0.1"
                anonymous = true
                max_payload_bytes = 65536

                [mqtt.users.alice]
                password = "%s"

                [mqtt.users.bob]
                password = "%s"

                [http]
                port = 0
                host = "127.0.0.1"

                [data]
                dir = "%s"

                [mapping.devices]
                "mesh/b5ea3f/42" = "bedroom.light"

                [mapping.subtopics]
                "M" = "brightness"

                [mapping.types]
                input = "status"
                output = "command"
                """.formatted(alice, bob, dir.resolve("data")) + EngineProfile.toml(dir));
    }

    @Test
    void aMappedPublishReachesTheWebSocketTheStatusAndTheRawStream() throws Exception {
        try (Clients.Ws ws = new Clients.Ws(server.http())) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"bedroom.#\"}");
            assertThat(ws.next("subscribed", 10)).isNotNull();

            assertThat(Clients.mosquittoPub(server.mqtt(), "-t", "mesh/b5ea3f/42/M/status", "-m", "255").exit()).isZero();

            JsonNode frame = ws.next("message", 10);
            assertThat(frame).as("a message frame on the WebSocket").isNotNull();
            JsonNode m = frame.get("message");
            assertThat(m.get("key").asText()).isEqualTo("bedroom.light.brightness");
            assertThat(m.get("kind").asText()).isEqualTo("status");
            assertThat(m.get("topic").asText()).isEqualTo("mesh/b5ea3f/42/M/status");
            assertThat(m.get("body").get("value").asInt()).isEqualTo(255);
        }

        Clients.Reply status = Clients.get(server.http(), "/api/status?key=bedroom.light.brightness");
        assertThat(status.status()).isEqualTo(200);
        assertThat(status.json().get("bedroom.light.brightness").get("body").get("value").asInt()).isEqualTo(255);

        Clients.Reply raw = Clients.get(server.http(), "/api/streams/raw?from=0&limit=1000");
        assertThat(raw.status()).isEqualTo(200);
        JsonNode found = null;
        for (JsonNode m : raw.json().get("messages")) {
            if (m.get("topic").asText().equals("mesh/b5ea3f/42/M/status")) {
                found = m;
            }
        }
        assertThat(found).as("the message in the raw stream").isNotNull();
        assertThat(found.get("id").asText()).hasSize(36);
        assertThat(found.get("ts").asLong()).isPositive();
        assertThat(found.get("key").asText()).isEqualTo("bedroom.light.brightness");
        assertThat(found.get("kind").asText()).isEqualTo("status");
        assertThat(found.get("body").toString()).isEqualTo("{\"value\":255}");
        assertThat(raw.json().get("next").asLong()).isGreaterThan(found.get("offset").asLong());
    }

    @Test
    void applicationTopicsWorkBothWays() throws Exception {
        assertThat(Clients.mosquittoPub(server.mqtt(), "-t", "dev42/app/p/data", "-m", "{\"temp\":21.5}", "-q", "1").exit()).isZero();
        await().untilAsserted(() -> {
            JsonNode m = Clients.get(server.http(), "/api/status?key=dev42.app.data").json().get("dev42.app.data");
            assertThat(m).isNotNull();
            assertThat(m.get("device").asText()).isEqualTo("dev42");
            assertThat(m.get("kind").asText()).isEqualTo("application");
            assertThat(m.get("body").get("temp").asDouble()).isEqualTo(21.5);
        });

        try (Clients.Sub sub = new Clients.Sub(server.mqtt(), "-t", "dev42/app/s/#", "-v", "-q", "1")) {
            awaitSubscribed(sub, "dev42/app/s/config");
            Clients.Reply sent = Clients.post(server.http(), "/api/commands", "{\"key\":\"dev42.app.config\",\"body\":{\"rate\":5}}");
            assertThat(sent.status()).isBetween(200, 202);
            assertThat(waitForLine(sub, "dev42/app/s/config {\"rate\":5}")).isTrue();
        }
    }

    @Test
    void egressPublishesOnTheDeviceTopicAndRecordsTheCommandOnce() throws Exception {
        try (Clients.Sub sub = new Clients.Sub(server.mqtt(), "-t", "mesh/b5ea3f/42/#", "-v")) {
            awaitSubscribed(sub, "mesh/b5ea3f/42/M/command");
            Clients.Reply sent = Clients.post(server.http(), "/api/commands", "{\"key\":\"bedroom.light.brightness\",\"body\":{\"value\":0}}");
            assertThat(sent.status()).isBetween(200, 202);
            assertThat(waitForLine(sub, "mesh/b5ea3f/42/M/command {\"value\":0}")).isTrue();
        }
        // A command published straight on the device topic is delivered by the broker but not recorded again.
        long before = countCommands();
        assertThat(Clients.mosquittoPub(server.mqtt(), "-t", "mesh/b5ea3f/42/M/command", "-m", "{\"value\":1}", "-q", "1").exit()).isZero();
        assertThat(Clients.mosquittoPub(server.mqtt(), "-t", "mesh/b5ea3f/42/M/status", "-m", "1", "-q", "1").exit()).isZero();
        await().until(() -> Clients.get(server.http(), "/api/status?key=bedroom.light.brightness").json()
                .get("bedroom.light.brightness").get("body").get("value").asInt() == 1);
        assertThat(countCommands()).isEqualTo(before);
    }

    private static long countCommands() throws Exception {
        long n = 0;
        for (JsonNode m : Clients.get(server.http(), "/api/streams/raw?from=0&limit=10000").json().get("messages")) {
            if (m.get("kind").asText().equals("command") && m.get("key").asText().equals("bedroom.light.brightness")) {
                n++;
            }
        }
        return n;
    }

    @Test
    void aDeviceMayUseOnlyItsOwnTopicsAndAWrongPasswordIsRefused() throws Exception {
        Clients.Run wrong = Clients.mosquittoPub(server.mqtt(), "-u", "alice", "-P", "nope", "-i", "alice", "-t", "alice/x", "-m", "1");
        assertThat(wrong.exit()).isNotZero();
        assertThat(wrong.output().toLowerCase()).containsAnyOf("not authorised", "bad user name or password", "refused");

        try (Clients.Sub bobSub = new Clients.Sub(server.mqtt(), "-u", "bob", "-P", "bob-pw", "-i", "bob", "-t", "bob/#", "-v", "-q", "1");
             Clients.Sub aliceSpy = new Clients.Sub(server.mqtt(), "-u", "alice", "-P", "alice-pw", "-i", "alice-spy", "-t", "bob/#", "-v", "-q", "1", "-V", "mqttv5")) {
            awaitSubscribed(bobSub, "bob/ping");
            // Alice publishing under Bob's topics: not delivered, not recorded.
            Clients.mosquittoPub(server.mqtt(), "-u", "alice", "-P", "alice-pw", "-i", "alice", "-t", "bob/evil", "-m", "x", "-q", "1");
            assertThat(Clients.mosquittoPub(server.mqtt(), "-u", "bob", "-P", "bob-pw", "-i", "bob-pub", "-t", "bob/ok", "-m", "y", "-q", "1").exit()).isZero();
            assertThat(waitForLine(bobSub, "bob/ok y")).isTrue();
            assertThat(bobSub.lines).noneMatch(l -> l.startsWith("bob/evil"));
            assertThat(Clients.get(server.http(), "/api/status?key=bob.evil").json().has("bob.evil")).isFalse();
            // Alice's subscription to Bob's topics was refused: she got nothing of Bob's.
            assertThat(aliceSpy.lines).noneMatch(l -> l.startsWith("bob/"));
        }
        // Her own topics work.
        assertThat(Clients.mosquittoPub(server.mqtt(), "-u", "alice", "-P", "alice-pw", "-i", "alice", "-t", "alice/temp", "-m", "20", "-q", "1").exit()).isZero();
        await().until(() -> Clients.get(server.http(), "/api/status?key=alice.temp").json().has("alice.temp"));
    }

    @Test
    void badMqttInputClosesOnlyTheOffendingConnection() throws Exception {
        try (Clients.Sub sub = new Clients.Sub(server.mqtt(), "-t", "healthy/#", "-v")) {
            awaitSubscribed(sub, "healthy/x");

            // Garbage bytes instead of an MQTT packet.
            assertClosedAfter(new byte[]{0x10, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 1, 2, 3});
            // A PUBLISH whose topic holds a wildcard.
            assertClosedAfter(connect(), publish("bad/+/topic", "x".getBytes(StandardCharsets.UTF_8)));
            // A PUBLISH whose topic is not UTF-8.
            assertClosedAfter(connect(), publish(new byte[]{'a', (byte) 0xC3, 0x28}, "x".getBytes(StandardCharsets.UTF_8)));
            // A payload over the limit (64 KiB in this config).
            assertClosedAfter(connect(), publish("healthy/big".getBytes(StandardCharsets.UTF_8), new byte[70_000]));

            assertThat(Clients.mosquittoPub(server.mqtt(), "-t", "healthy/x", "-m", "still here").exit()).isZero();
            assertThat(waitForLine(sub, "healthy/x still here")).isTrue();
            assertThat(sub.lines).noneMatch(l -> l.startsWith("healthy/big"));
        }
        Clients.Reply metrics = Clients.get(server.http(), "/metrics");
        assertThat(metrics.text()).contains("junction_mqtt_rejected");
    }

    @Test
    void badHttpInputGetsAJsonErrorWithAFittingCode() throws Exception {
        Clients.Reply unknown = Clients.get(server.http(), "/api/nope");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("error").asText()).isNotBlank();

        Clients.Reply badJson = Clients.post(server.http(), "/api/commands", "{\"key\": ");
        assertThat(badJson.status()).isEqualTo(400);
        assertThat(badJson.json().has("detail")).isTrue();

        Clients.Reply badKey = Clients.post(server.http(), "/api/commands", "{\"key\":\"a..b\",\"body\":{}}");
        assertThat(badKey.status()).isEqualTo(400);

        Clients.Reply badFrom = Clients.get(server.http(), "/api/streams/raw?from=yesterday");
        assertThat(badFrom.status()).isEqualTo(400);
        assertThat(Clients.get(server.http(), "/api/health").status()).isEqualTo(200);
    }

    @Test
    void metricsAndDevicesDescribeWhatHappened() throws Exception {
        assertThat(Clients.mosquittoPub(server.mqtt(), "-i", "counter-7", "-t", "counter-7/x", "-m", "1", "-q", "1").exit()).isZero();
        // The client has gone once mosquitto_pub exits; the server notices the closed socket a moment later.
        await().atMost(Duration.ofSeconds(10)).until(() ->
                !Clients.get(server.http(), "/api/devices/counter-7").json().get("connected").asBoolean());
        Clients.Reply device = Clients.get(server.http(), "/api/devices/counter-7");
        assertThat(device.status()).isEqualTo(200);
        assertThat(device.json().get("connected").asBoolean()).isFalse();
        assertThat(device.json().get("messagesIn").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(Clients.get(server.http(), "/api/devices").json().get("devices").toString()).contains("counter-7");
        assertThat(Clients.get(server.http(), "/api/devices/nobody").status()).isEqualTo(404);

        String metrics = Clients.get(server.http(), "/metrics").text();
        assertThat(metrics).contains("junction_mqtt_connections", "junction_mqtt_messages_in", "junction_mqtt_bytes_in",
                "junction_mqtt_messages_out", "junction_stream_", "junction_live_dropped");
    }

    // --- helpers -------------------------------------------------------------------------------------------

    /** mosquitto_sub has no "subscribed" signal: publish probes until one arrives. */
    private static void awaitSubscribed(Clients.Sub sub, String probeTopic) throws Exception {
        await().until(() -> {
            Clients.mosquittoPub(server.mqtt(), "-t", probeTopic.replace("/command", "/probe"), "-m", "probe");
            return sub.lines.stream().anyMatch(l -> l.endsWith("probe"));
        });
    }

    private static boolean waitForLine(Clients.Sub sub, String expected) {
        try {
            await().until(() -> sub.lines.contains(expected));
            return true;
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            return false;
        }
    }

    private static void assertClosedAfter(byte[]... packets) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.mqtt())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            for (byte[] p : packets) {
                out.write(p);
            }
            out.flush();
            InputStream in = s.getInputStream();
            // Read whatever the server says (a CONNACK, maybe a DISCONNECT) until it closes the socket.
            byte[] buf = new byte[4096];
            long deadline = System.currentTimeMillis() + 5000;
            while (System.currentTimeMillis() < deadline) {
                int n;
                try {
                    n = in.read(buf);
                } catch (java.net.SocketException e) {
                    return;
                }
                if (n < 0) {
                    return;
                }
            }
            throw new AssertionError("the server did not close the connection");
        }
    }

    /** An MQTT 3.1.1 CONNECT with a clean session and a random client id. */
    private static byte[] connect() {
        byte[] id = ("raw-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
        byte[] variable = {0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60};
        byte[] payload = new byte[2 + id.length];
        payload[0] = (byte) (id.length >> 8);
        payload[1] = (byte) id.length;
        System.arraycopy(id, 0, payload, 2, id.length);
        return packet(0x10, variable, payload);
    }

    private static byte[] publish(String topic, byte[] payload) {
        return publish(topic.getBytes(StandardCharsets.UTF_8), payload);
    }

    private static byte[] publish(byte[] topic, byte[] payload) {
        byte[] variable = new byte[2 + topic.length];
        variable[0] = (byte) (topic.length >> 8);
        variable[1] = (byte) topic.length;
        System.arraycopy(topic, 0, variable, 2, topic.length);
        return packet(0x30, variable, payload);
    }

    private static byte[] packet(int header, byte[] variable, byte[] payload) {
        int length = variable.length + payload.length;
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(header);
        do {
            int digit = length % 128;
            length /= 128;
            out.write(length > 0 ? digit | 0x80 : digit);
        } while (length > 0);
        out.writeBytes(variable);
        out.writeBytes(payload);
        return out.toByteArray();
    }

}
