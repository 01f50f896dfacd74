package io.junction.server.ota;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5Client;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** A simulated device: a real MQTT 5 client (HiveMQ) subscribed to its OTA answers on {@code <uid>/ota/s/#}. */
final class OtaDevice implements AutoCloseable {

    final String uid;
    private final Mqtt5BlockingClient client;
    private final Mqtt5BlockingClient.Mqtt5Publishes publishes;

    OtaDevice(String uid, int port) {
        this.uid = uid;
        this.client = Mqtt5Client.builder().identifier(uid).serverHost("127.0.0.1").serverPort(port).buildBlocking();
        client.connect();
        publishes = client.publishes(MqttGlobalPublishFilter.ALL);
        client.subscribeWith().topicFilter(uid + "/ota/s/#").qos(MqttQos.AT_LEAST_ONCE).send();
    }

    void send(byte[] payload) {
        client.publishWith().topic(uid + "/ota/p").qos(MqttQos.AT_LEAST_ONCE).payload(payload).send();
    }

    void send(String json) {
        send(json.getBytes(StandardCharsets.UTF_8));
    }

    /** The next message from the server on {@code topic} (others are skipped), or an AssertionError. */
    byte[] next(String topic, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            Optional<Mqtt5Publish> p = left <= 0 ? Optional.empty() : publishes.receive(left, TimeUnit.NANOSECONDS);
            if (p.isEmpty()) {
                throw new AssertionError(uid + ": nothing arrived on " + topic + " within " + seconds + " s");
            }
            if (p.get().getTopic().toString().equals(topic)) {
                return p.get().getPayloadAsBytes();
            }
        }
    }

    /** The next answer on {@code <uid>/ota/s}. */
    byte[] answer() throws InterruptedException {
        return next(uid + "/ota/s", 10);
    }

    String answerText() throws InterruptedException {
        return new String(answer(), StandardCharsets.UTF_8);
    }

    /** The next JSON answer of {@code type} on {@code <uid>/ota/s}, skipping others (offers pushed on connect, ...). */
    JsonNode answer(String type) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            byte[] a = answer();
            if (a.length > 0 && a[0] == '{') {
                JsonNode n = Json.MAPPER.readTree(a);
                if (n.path("type").asText().equals(type)) {
                    return n;
                }
            }
        }
        throw new AssertionError(uid + ": no answer of type " + type);
    }

    /** The next CBOR answer on {@code <uid>/ota/s} (an empty one means no update), skipping JSON ones. */
    byte[] cborAnswer() throws InterruptedException {
        while (true) {
            byte[] a = answer();
            if (a.length == 0 || a[0] != '{') {
                return a;
            }
        }
    }

    /** The next chunk on {@code <uid>/ota/s/d}. */
    byte[] chunk() throws InterruptedException {
        return next(uid + "/ota/s/d", 10);
    }

    /** True when nothing arrives on {@code <uid>/ota/s} for {@code millis}. */
    boolean quiet(long millis) throws InterruptedException {
        Optional<Mqtt5Publish> p = publishes.receive(millis, TimeUnit.MILLISECONDS);
        return p.isEmpty();
    }

    @Override
    public void close() {
        publishes.close();
        client.disconnect();
    }
}
