package io.junction.mqtt.broker;

import com.hivemq.client.mqtt.MqttClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.Mqtt3Client;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5Client;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A broker on an ephemeral loopback port plus the clients a test made, all closed together. */
final class TestBroker implements AutoCloseable {

    final RecordingHandler handler = new RecordingHandler();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final MqttBroker broker;
    private final List<MqttClient> clients = new ArrayList<>();
    private final List<AutoCloseable> others = new ArrayList<>();

    TestBroker(BrokerSettings.Builder settings) {
        broker = MqttBroker.start(settings.host("127.0.0.1").build(), handler, meters);
    }

    /** An anonymous-friendly broker with default limits. */
    static TestBroker anonymous() {
        return new TestBroker(BrokerSettings.builder().anonymous(true));
    }

    int port() {
        return broker.port();
    }

    Mqtt5AsyncClient v5(String clientId) {
        Mqtt5AsyncClient c = Mqtt5Client.builder().identifier(clientId).serverHost("127.0.0.1").serverPort(port()).buildAsync();
        clients.add(c);
        return c;
    }

    Mqtt3AsyncClient v3(String clientId) {
        Mqtt3AsyncClient c = Mqtt3Client.builder().identifier(clientId).serverHost("127.0.0.1").serverPort(port()).buildAsync();
        clients.add(c);
        return c;
    }

    /** An MQTT 5 client already connected (clean start), closed with the broker. */
    Mqtt5AsyncClient connectedV5(String clientId) throws Exception {
        Mqtt5AsyncClient c = v5(clientId);
        c.connect().get(5, TimeUnit.SECONDS);
        return c;
    }

    /** An MQTT 3.1.1 client already connected (clean session), closed with the broker. */
    Mqtt3AsyncClient connectedV3(String clientId) throws Exception {
        Mqtt3AsyncClient c = v3(clientId);
        c.connect().get(5, TimeUnit.SECONDS);
        return c;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    RawMqtt raw() throws Exception {
        RawMqtt r = RawMqtt.open(port());
        others.add(r);
        return r;
    }

    <T extends AutoCloseable> T closeLater(T resource) {
        others.add(resource);
        return resource;
    }

    double rejected(String reason) {
        return meters.get("junction.mqtt.rejected").tag("reason", reason).counter().count();
    }

    @Override
    public void close() {
        for (MqttClient c : clients) {
            try {
                if (c instanceof Mqtt5AsyncClient a && a.getState().isConnected()) {
                    a.disconnect().get(2, TimeUnit.SECONDS);
                } else if (c instanceof Mqtt3AsyncClient a && a.getState().isConnected()) {
                    a.disconnect().get(2, TimeUnit.SECONDS);
                }
            } catch (Exception ignored) {
                // The test may have broken the connection on purpose.
            }
        }
        for (AutoCloseable o : others) {
            try {
                o.close();
            } catch (Exception ignored) {
                // Best effort.
            }
        }
        broker.close();
    }
}
