package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

class BadInputTest {

    @AutoClose
    private final TestBroker t = new TestBroker(BrokerSettings.builder().anonymous(true).maxPayloadBytes(1024));

    /** A subscriber and a publisher that must keep working while other connections misbehave. */
    private void assertOthersStillWork(String topic) throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("bystander-sub-" + topic);
        Mqtt5AsyncClient pub = t.connectedV5("bystander-pub-" + topic);
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter(topic).qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);
        pub.publishWith().topic(topic).payload(utf8("still fine")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
    }

    @Test
    void garbageBytesCloseOnlyThatConnection() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("steady-sub");
        Mqtt5AsyncClient pub = t.connectedV5("steady-pub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("steady").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);

        RawMqtt garbage = t.raw();
        garbage.send(new byte[] {0x00, (byte) 0xFF, 0x13, 0x37, (byte) 0xDE, (byte) 0xAD, (byte) 0xBE, (byte) 0xEF});
        garbage.awaitClosed(Duration.ofSeconds(5));
        RawMqtt connectedThenGarbage = t.raw();
        assertThat(connectedThenGarbage.connect(4, "babbler", 60)).isZero();
        connectedThenGarbage.send(new byte[] {(byte) 0xF0, 0x00, 0x01, 0x02});
        connectedThenGarbage.awaitClosed(Duration.ofSeconds(5));

        pub.publishWith().topic("steady").payload(utf8("ok")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(sub.getState().isConnected()).isTrue();
        assertThat(t.rejected("malformed")).isEqualTo(2);
    }

    @Test
    void publishToAWildcardTopicClosesTheConnection() throws Exception {
        RawMqtt v5 = t.raw();
        assertThat(v5.connect(5, "wild5", 60)).isZero();
        v5.send(RawMqtt.publishPacket(5, "a/+", 1, utf8("x")));
        RawMqtt v3 = t.raw();
        assertThat(v3.connect(4, "wild3", 60)).isZero();
        v3.send(RawMqtt.publishPacket(4, "a/#", 0, utf8("x")));

        assertThat(v5.awaitClosed(Duration.ofSeconds(5))).as("DISCONNECT before the close").isEqualTo(14);
        v3.awaitClosed(Duration.ofSeconds(5));
        assertThat(t.handler.received).isEmpty();
        assertThat(t.rejected("bad_topic")).isEqualTo(2);
        assertOthersStillWork("after/wild");
    }

    @Test
    void mqtt5ClientIsToldWhyItsTopicWasInvalid() throws Exception {
        RawMqtt v5 = t.raw();
        assertThat(v5.connect(5, "wild5", 60)).isZero();

        v5.send(RawMqtt.publishPacket(5, "a/+", 1, utf8("x")));

        RawMqtt.Packet disconnect = v5.read();
        assertThat(disconnect.type()).isEqualTo(14);
        assertThat(RawMqtt.reasonCode(disconnect)).isEqualTo(0x90);
    }

    @Test
    void emptyOrNonUtf8TopicClosesTheConnection() throws Exception {
        RawMqtt empty = t.raw();
        assertThat(empty.connect(4, "empty", 60)).isZero();
        empty.send(RawMqtt.publishPacket(4, new byte[0], 0, 0, utf8("x")));
        RawMqtt notUtf8 = t.raw();
        assertThat(notUtf8.connect(5, "not-utf8", 60)).isZero();
        notUtf8.send(RawMqtt.publishPacket(5, new byte[] {'a', '/', (byte) 0xC3, 0x28}, 1, 7, utf8("x")));

        empty.awaitClosed(Duration.ofSeconds(5));
        RawMqtt.Packet disconnect = notUtf8.read();
        assertThat(RawMqtt.reasonCode(disconnect)).isEqualTo(0x90);
        notUtf8.awaitClosed(Duration.ofSeconds(5));
        assertThat(t.handler.received).isEmpty();
        assertThat(t.rejected("bad_topic")).isEqualTo(1);
        assertThat(t.rejected("bad_utf8")).isEqualTo(1);
    }

    @Test
    void payloadOverTheMaximumClosesTheConnection() throws Exception {
        RawMqtt fits = t.raw();
        assertThat(fits.connect(5, "fits", 60)).isZero();
        fits.send(RawMqtt.publishPacket(5, "big/ok", 1, new byte[1024]));
        assertThat(fits.read().type()).as("PUBACK").isEqualTo(4);

        RawMqtt slightlyTooBig = t.raw();
        assertThat(slightlyTooBig.connect(5, "slightly", 60)).isZero();
        slightlyTooBig.send(RawMqtt.publishPacket(5, "big/no", 1, new byte[1025]));
        RawMqtt.Packet disconnect = slightlyTooBig.read();
        assertThat(disconnect.type()).isEqualTo(14);
        assertThat(RawMqtt.reasonCode(disconnect)).isEqualTo(0x95);
        slightlyTooBig.awaitClosed(Duration.ofSeconds(5));

        RawMqtt wayTooBig = t.raw();
        assertThat(wayTooBig.connect(4, "way", 60)).isZero();
        wayTooBig.send(RawMqtt.publishPacket(4, "big/no", 1, new byte[64 * 1024]));
        assertThat(wayTooBig.awaitClosed(Duration.ofSeconds(5))).as("no PUBACK").isEqualTo(-1);

        assertThat(t.handler.topics()).containsExactly("big/ok");
        assertThat(t.rejected("too_large")).isEqualTo(2);
        assertOthersStillWork("after/big");
    }

    @Test
    void firstPacketOtherThanConnectClosesTheConnection() throws Exception {
        RawMqtt raw = t.raw();

        raw.send(RawMqtt.publishPacket(4, "no/connect", 0, utf8("x")));

        assertThat(raw.awaitClosed(Duration.ofSeconds(5))).isEqualTo(-1);
        assertThat(t.rejected("protocol")).isEqualTo(1);
        assertThat(t.handler.received).isEmpty();
    }

    @Test
    void unsupportedProtocolVersionGetsARefusingConnack() throws Exception {
        RawMqtt raw = t.raw();

        raw.send(RawMqtt.connectPacket(6, "future", 60, true, null, null, null));

        RawMqtt.Packet connack = raw.read();
        assertThat(connack.type()).isEqualTo(2);
        assertThat(connack.body()[1]).isEqualTo((byte) 0x01);
        raw.awaitClosed(Duration.ofSeconds(5));
        assertThat(t.rejected("unsupported_version")).isEqualTo(1);
    }

    @Test
    void silentSocketIsClosedWhenItNeverSendsConnect() throws Exception {
        t.close();
        try (TestBroker quick = new TestBroker(BrokerSettings.builder().anonymous(true).connectTimeout(Duration.ofMillis(300)))) {
            RawMqtt raw = quick.raw();
            raw.awaitClosed(Duration.ofSeconds(5));
        }
    }
}
