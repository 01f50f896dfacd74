package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5PubAckException;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5PubRecException;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PayloadFormatIndicator;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5PublishResult;
import com.hivemq.client.mqtt.mqtt5.message.publish.puback.Mqtt5PubAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.publish.pubrec.Mqtt5PubRecReasonCode;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

class IngestTest {

    @AutoClose
    private TestBroker t = TestBroker.anonymous();

    private void restart(BrokerSettings.Builder settings) {
        t.close();
        t = new TestBroker(settings);
    }

    @Test
    void pubackWaitsForTheHandlerStageToComplete() throws Exception {
        t.handler.answerWith(p -> CompletableFuture.runAsync(() -> { },
                CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS)));
        Mqtt5AsyncClient v5 = t.connectedV5("slow5");
        Mqtt3AsyncClient v3 = t.connectedV3("slow3");

        long start = System.nanoTime();
        v5.publishWith().topic("slow/5").payload(utf8("x")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        long v5Millis = (System.nanoTime() - start) / 1_000_000;
        start = System.nanoTime();
        v3.publishWith().topic("slow/3").payload(utf8("x")).qos(MqttQos.EXACTLY_ONCE).send().get(5, TimeUnit.SECONDS);
        long v3Millis = (System.nanoTime() - start) / 1_000_000;

        assertThat(v5Millis).isGreaterThanOrEqualTo(250);
        assertThat(v3Millis).isGreaterThanOrEqualTo(250);
    }

    @Test
    void brokerStopsReadingWhileReceiveMaximumStagesAreOutstanding() throws Exception {
        restart(BrokerSettings.builder().anonymous(true).receiveMaximum(8));
        List<CompletableFuture<Void>> stages = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            CompletableFuture<Void> f = new CompletableFuture<>();
            stages.add(f);
            return f;
        });
        Mqtt5AsyncClient c = t.connectedV5("flood");

        List<CompletableFuture<Mqtt5PublishResult>> results = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            results.add(c.publishWith().topic("bp/" + i).payload(utf8("m" + i)).qos(MqttQos.AT_LEAST_ONCE).send());
        }

        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.received.size() == 8);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> t.handler.received.size() == 8);
        assertThat(results).noneMatch(CompletableFuture::isDone);

        // Completing the stages drains the rest, in order.
        t.handler.answerWith(p -> CompletableFuture.completedFuture(null));
        stages.forEach(f -> f.complete(null));
        await().atMost(Duration.ofSeconds(10)).until(() -> t.handler.received.size() == 20);
        CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        assertThat(t.handler.topics()).containsExactlyElementsOf(
                IntStream.range(0, 20).mapToObj(i -> "bp/" + i).toList());
    }

    @Test
    void qos0FloodFromMqtt311ClientIsHeldBackToo() throws Exception {
        restart(BrokerSettings.builder().anonymous(true).receiveMaximum(4));
        List<CompletableFuture<Void>> stages = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            CompletableFuture<Void> f = new CompletableFuture<>();
            stages.add(f);
            return f;
        });
        Mqtt3AsyncClient c = t.connectedV3("flood3");

        for (int i = 0; i < 200; i++) {
            c.publishWith().topic("q0/" + i).payload(utf8("m" + i)).qos(MqttQos.AT_MOST_ONCE).send();
        }

        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.received.size() == 4);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> t.handler.received.size() == 4);
        t.handler.answerWith(p -> CompletableFuture.completedFuture(null));
        stages.forEach(f -> f.complete(null));
        await().atMost(Duration.ofSeconds(10)).until(() -> t.handler.received.size() == 200);
        assertThat(t.handler.topics()).containsExactlyElementsOf(
                IntStream.range(0, 200).mapToObj(i -> "q0/" + i).toList());
    }

    @Test
    void acknowledgementsGoOutInOrderWhenStagesCompleteOutOfOrder() throws Exception {
        List<CompletableFuture<Void>> stages = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            CompletableFuture<Void> f = new CompletableFuture<>();
            stages.add(f);
            return f;
        });
        RawMqtt raw = t.raw();
        assertThat(raw.connect(4, "orderly", 60)).isZero();
        raw.send(RawMqtt.publishPacket(4, utf8("o/1"), 1, 11, utf8("first")));
        raw.send(RawMqtt.publishPacket(4, utf8("o/2"), 1, 22, utf8("second")));
        await().atMost(Duration.ofSeconds(5)).until(() -> stages.size() == 2);

        stages.get(1).complete(null);
        assertThatThrownBy(() -> readWithin(raw, Duration.ofMillis(300))).isInstanceOf(SocketTimeoutException.class);
        stages.get(0).complete(null);

        assertThat(packetIdOf(readWithin(raw, Duration.ofSeconds(5)))).isEqualTo(11);
        assertThat(packetIdOf(readWithin(raw, Duration.ofSeconds(5)))).isEqualTo(22);
    }

    @Test
    void resentQos2PublishIsIngestedAndDeliveredOnce() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("q2-sub");
        List<String> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("q2/#").qos(MqttQos.EXACTLY_ONCE)
                .callback(p -> got.add(new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8))).send().get(5, TimeUnit.SECONDS);
        RawMqtt raw = t.raw();
        assertThat(raw.connect(4, "q2-pub", 60)).isZero();

        raw.send(RawMqtt.publishPacket(4, utf8("q2/x"), 2, 5, utf8("once")));
        assertThat(raw.read().type()).as("PUBREC").isEqualTo(5);
        raw.send(RawMqtt.publishPacket(4, utf8("q2/x"), 2, 5, utf8("once")));
        assertThat(raw.read().type()).as("PUBREC again").isEqualTo(5);
        raw.send(RawMqtt.pubrelPacket(5));
        assertThat(raw.read().type()).as("PUBCOMP").isEqualTo(7);
        t.broker.publish("q2/marker", utf8("marker"), 2, false).get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.contains("marker"));
        assertThat(got).containsExactly("once", "marker");
        assertThat(t.handler.topics()).containsExactly("q2/x");
    }

    private static RawMqtt.Packet readWithin(RawMqtt raw, Duration timeout) throws Exception {
        return raw.readWithTimeout(timeout);
    }

    private static int packetIdOf(RawMqtt.Packet p) {
        assertThat(p.type()).isEqualTo(4);
        return (p.body()[0] & 0xFF) << 8 | p.body()[1] & 0xFF;
    }

    @Test
    void failedStageGivesMqtt5ClientUnspecifiedErrorAndOverloadGivesQuotaExceeded() throws Exception {
        t.handler.answerWith(p -> p.topic().endsWith("busy")
                ? CompletableFuture.failedFuture(new BrokerOverloadedException("log full"))
                : CompletableFuture.failedFuture(new IllegalStateException("disk on fire")));
        Mqtt5AsyncClient c = t.connectedV5("unlucky");

        assertThatThrownBy(() -> c.publishWith().topic("x/broken").payload(utf8("1")).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOfSatisfying(Mqtt5PubAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5PubAckReasonCode.UNSPECIFIED_ERROR));
        assertThatThrownBy(() -> c.publishWith().topic("x/busy").payload(utf8("2")).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5PubAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5PubAckReasonCode.QUOTA_EXCEEDED));
        assertThatThrownBy(() -> c.publishWith().topic("x/busy").payload(utf8("3")).qos(MqttQos.EXACTLY_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5PubRecException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5PubRecReasonCode.QUOTA_EXCEEDED));
        assertThat(c.getState().isConnected()).isTrue();
        assertThat(t.rejected("ingest_error")).isEqualTo(1);
        assertThat(t.rejected("ingest_overloaded")).isEqualTo(2);
    }

    @Test
    void failedStageClosesMqtt311ConnectionWithoutAcknowledging() throws Exception {
        t.handler.answerWith(p -> CompletableFuture.failedFuture(new IllegalStateException("disk on fire")));
        RawMqtt raw = t.raw();
        assertThat(raw.connect(4, "unlucky3", 60)).isZero();

        raw.send(RawMqtt.publishPacket(4, "x/broken", 1, utf8("1")));

        assertThat(raw.awaitClosed(Duration.ofSeconds(5))).as("no PUBACK before the close").isEqualTo(-1);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("unlucky3").orElseThrow().connected());
    }

    @Test
    void handlerGetsTheSendersIdentityAndTheExactPayload() throws Exception {
        Mqtt5AsyncClient c = t.connectedV5("sensor-7");
        byte[] binary = {0, 1, 2, (byte) 0xFF, (byte) 0xC3, 0x28};

        c.publishWith().topic("sensor-7/raw").payload(binary).qos(MqttQos.AT_LEAST_ONCE).retain(true).send()
                .get(5, TimeUnit.SECONDS);
        c.publishWith().topic("sensor-7/text").payload(utf8("héllo")).payloadFormatIndicator(Mqtt5PayloadFormatIndicator.UTF_8)
                .send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.received.size() == 2);
        InboundPublish raw = t.handler.received.get(0);
        assertThat(raw.clientId()).isEqualTo("sensor-7");
        assertThat(raw.username()).isEmpty();
        assertThat(raw.deviceUid()).isEqualTo("sensor-7");
        assertThat(raw.topic()).isEqualTo("sensor-7/raw");
        assertThat(raw.payload()).isEqualTo(binary);
        assertThat(raw.qos()).isEqualTo(1);
        assertThat(raw.retain()).isTrue();
        assertThat(raw.payloadIsUtf8Declared()).isFalse();
        assertThat(raw.receivedAtMillis()).isPositive();
        InboundPublish text = t.handler.received.get(1);
        assertThat(text.payloadIsUtf8Declared()).isTrue();
        assertThat(new String(text.payload(), StandardCharsets.UTF_8)).isEqualTo("héllo");
    }

    @Test
    void payloadDeclaredUtf8ThatIsNotIsRefusedAndNotIngested() throws Exception {
        Mqtt5AsyncClient c = t.connectedV5("liar");

        assertThatThrownBy(() -> c.publishWith().topic("liar/x").payload(new byte[] {(byte) 0xC3, 0x28})
                .payloadFormatIndicator(Mqtt5PayloadFormatIndicator.UTF_8).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5PubAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5PubAckReasonCode.PAYLOAD_FORMAT_INVALID));
        assertThat(t.handler.received).isEmpty();
        assertThat(t.rejected("bad_utf8")).isEqualTo(1);
    }
}
