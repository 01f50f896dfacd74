package io.junction.mqtt.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTest {

    @TempDir
    Path dir;

    /** A self-signed certificate for localhost and 127.0.0.1, made by openssl. */
    private void makeCertificate() throws Exception {
        String openssl = Tools.require("openssl", "openssl");
        Tools.run(Duration.ofSeconds(30), openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString(),
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    }

    @Test
    void mosquittoPublishesOverTlsTrustingTheSelfSignedCertificate() throws Exception {
        String mosquittoPub = Tools.mosquitto("mosquitto_pub");
        makeCertificate();
        BrokerSettings.Tls tls = new BrokerSettings.Tls(0, dir.resolve("cert.pem"), dir.resolve("key.pem"), Optional.empty());
        try (TestBroker t = new TestBroker(BrokerSettings.builder().anonymous(true).tls(tls))) {
            int tlsPort = t.broker.tlsPort().orElseThrow();
            assertThat(tlsPort).isNotEqualTo(t.port());
            Mqtt5AsyncClient sub = t.connectedV5("plain-sub");
            List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
            sub.subscribeWith().topicFilter("secure/#").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send()
                    .get(5, TimeUnit.SECONDS);

            Tools.run(Duration.ofSeconds(15), mosquittoPub, "-h", "localhost", "-p", String.valueOf(tlsPort),
                    "--cafile", dir.resolve("cert.pem").toString(), "-q", "1", "-t", "secure/hello", "-m", "over tls",
                    "-i", "tls-pub");

            await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
            assertThat(new String(got.get(0).getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("over tls");
            assertThat(t.handler.topics()).containsExactly("secure/hello");
        }
    }

    @Test
    void plainMqttOnTheTlsPortIsClosed() throws Exception {
        Tools.mosquitto("mosquitto_pub");
        makeCertificate();
        BrokerSettings.Tls tls = new BrokerSettings.Tls(0, dir.resolve("cert.pem"), dir.resolve("key.pem"), Optional.empty());
        try (TestBroker t = new TestBroker(BrokerSettings.builder().anonymous(true).tls(tls));
             RawMqtt raw = RawMqtt.open(t.broker.tlsPort().orElseThrow())) {
            raw.send(RawMqtt.connectPacket(4, "plain-on-tls", 60, true, null, null, null));

            raw.awaitClosed(Duration.ofSeconds(5));
            await().atMost(Duration.ofSeconds(5)).until(() -> t.rejected("tls") == 1);
        }
    }

    @Test
    void missingCertificateFileIsReportedByName() {
        BrokerSettings.Tls tls = new BrokerSettings.Tls(0, dir.resolve("nope.pem"), dir.resolve("key.pem"), Optional.empty());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new TestBroker(BrokerSettings.builder().tls(tls)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nope.pem");
    }
}
