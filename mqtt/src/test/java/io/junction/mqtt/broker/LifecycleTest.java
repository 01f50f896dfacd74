package io.junction.mqtt.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.UncheckedIOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LifecycleTest {

    @Test
    void portInUseFailsWithTheAddressAndTheReason() {
        try (TestBroker first = TestBroker.anonymous()) {
            BrokerSettings clash = BrokerSettings.builder().host("127.0.0.1").port(first.port()).anonymous(true).build();

            assertThatThrownBy(() -> MqttBroker.start(clash, p -> null, new SimpleMeterRegistry()))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining("127.0.0.1:" + first.port())
                    .hasMessageContaining("in use");
        }
    }

    @Test
    void closeDisconnectsClientsAndStopsQuickly() throws Exception {
        TestBroker t = TestBroker.anonymous();
        RawMqtt v5 = RawMqtt.open(t.port());
        assertThat(v5.connect(5, "bye5", 60)).isZero();
        RawMqtt v3 = RawMqtt.open(t.port());
        assertThat(v3.connect(4, "bye3", 60)).isZero();

        long start = System.nanoTime();
        t.close();
        long millis = (System.nanoTime() - start) / 1_000_000;

        assertThat(millis).isLessThan(2_500);
        RawMqtt.Packet disconnect = v5.read();
        assertThat(RawMqtt.reasonCode(disconnect)).isEqualTo(0x8B);
        v5.awaitClosed(Duration.ofSeconds(2));
        v3.awaitClosed(Duration.ofSeconds(2));
        v5.close();
        v3.close();
        assertThatThrownBy(() -> RawMqtt.open(t.port()).connect(4, "late", 60)).isInstanceOf(java.io.IOException.class);
        assertThat(t.meters.find("junction.mqtt.connections").gauge()).as("meters removed on close").isNull();
    }

    @Test
    void connectionLimitRefusesTheNextClient() throws Exception {
        try (TestBroker t = new TestBroker(BrokerSettings.builder().anonymous(true).maxConnections(1))) {
            RawMqtt first = t.raw();
            assertThat(first.connect(4, "first", 60)).isZero();

            assertThat(t.raw().connect(4, "second", 60)).as("server unavailable").isEqualTo(0x03);
            assertThat(t.raw().connect(5, "third", 60)).as("quota exceeded").isEqualTo(0x97);
            assertThat(t.rejected("limit")).isEqualTo(2);
        }
    }

    @Test
    void invalidSettingsSayWhatIsExpected() {
        assertThatThrownBy(() -> BrokerSettings.builder().receiveMaximum(0).build())
                .hasMessageContaining("receiveMaximum must be between 1 and 65535");
        assertThatThrownBy(() -> BrokerSettings.builder().port(70_000).build())
                .hasMessageContaining("mqtt port must be between 0");
        assertThatThrownBy(() -> BrokerSettings.builder()
                .user("x+y", BrokerUser.device(io.junction.core.auth.PasswordHash.hash("p".toCharArray(), 1_000))).build())
                .hasMessageContaining("must not contain '+'");
    }
}
