package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.message.publish.Mqtt3Publish;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

class PubSubTest {

    @AutoClose
    private final TestBroker t = TestBroker.anonymous();

    private static String text(Mqtt5Publish p) {
        return new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8);
    }

    private double subscriptions() {
        return t.meters.get("junction.mqtt.subscriptions").gauge().value();
    }

    @Test
    void mqtt5ClientsExchangeMessagesAtQos0And1And2() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("sub");
        Mqtt5AsyncClient pub = t.connectedV5("pub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("t/#").qos(MqttQos.EXACTLY_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);

        pub.publishWith().topic("t/0").payload(utf8("zero")).qos(MqttQos.AT_MOST_ONCE).send().get(5, TimeUnit.SECONDS);
        pub.publishWith().topic("t/1").payload(utf8("one")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        pub.publishWith().topic("t/2").payload(utf8("two")).qos(MqttQos.EXACTLY_ONCE).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 3);
        assertThat(got).extracting(p -> p.getTopic().toString()).containsExactly("t/0", "t/1", "t/2");
        assertThat(got).extracting(Mqtt5Publish::getQos)
                .containsExactly(MqttQos.AT_MOST_ONCE, MqttQos.AT_LEAST_ONCE, MqttQos.EXACTLY_ONCE);
        assertThat(got).extracting(PubSubTest::text).containsExactly("zero", "one", "two");
        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.received.size() == 3);
        assertThat(t.handler.received).extracting(InboundPublish::qos).containsExactly(0, 1, 2);
    }

    @Test
    void subscriptionQosCapsTheDeliveredQos() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("sub");
        Mqtt5AsyncClient pub = t.connectedV5("pub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("cap").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);

        pub.publishWith().topic("cap").payload(utf8("x")).qos(MqttQos.EXACTLY_ONCE).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(got.get(0).getQos()).isEqualTo(MqttQos.AT_LEAST_ONCE);
    }

    @Test
    void mqtt311AndMqtt5ClientsExchangeMessagesBothWays() throws Exception {
        Mqtt3AsyncClient v3 = t.connectedV3("v3");
        Mqtt5AsyncClient v5 = t.connectedV5("v5");
        List<Mqtt3Publish> atV3 = new CopyOnWriteArrayList<>();
        List<Mqtt5Publish> atV5 = new CopyOnWriteArrayList<>();
        v3.subscribeWith().topicFilter("to/v3").qos(MqttQos.EXACTLY_ONCE).callback(atV3::add).send().get(5, TimeUnit.SECONDS);
        v5.subscribeWith().topicFilter("to/v5").qos(MqttQos.EXACTLY_ONCE).callback(atV5::add).send().get(5, TimeUnit.SECONDS);

        for (MqttQos qos : MqttQos.values()) {
            v5.publishWith().topic("to/v3").payload(utf8("from v5 " + qos)).qos(qos).send().get(5, TimeUnit.SECONDS);
            v3.publishWith().topic("to/v5").payload(utf8("from v3 " + qos)).qos(qos).send().get(5, TimeUnit.SECONDS);
        }

        await().atMost(Duration.ofSeconds(5)).until(() -> atV3.size() == 3 && atV5.size() == 3);
        assertThat(atV3).extracting(p -> new String(p.getPayloadAsBytes(), StandardCharsets.UTF_8))
                .containsExactly("from v5 AT_MOST_ONCE", "from v5 AT_LEAST_ONCE", "from v5 EXACTLY_ONCE");
        assertThat(atV5).extracting(PubSubTest::text)
                .containsExactly("from v3 AT_MOST_ONCE", "from v3 AT_LEAST_ONCE", "from v3 EXACTLY_ONCE");
    }

    @Test
    void mosquittoClientsPublishAndSubscribeAtEveryQos() throws Exception {
        String mosquittoSub = Tools.mosquitto("mosquitto_sub");
        String mosquittoPub = Tools.mosquitto("mosquitto_pub");
        String port = String.valueOf(t.port());
        try (Tools.Running sub = Tools.start(mosquittoSub, "-h", "127.0.0.1", "-p", port, "-i", "msub", "-V", "mqttv5",
                "-q", "2", "-t", "m/#", "-C", "3", "-W", "20", "-F", "%t %q %p")) {
            await().atMost(Duration.ofSeconds(10)).until(() -> subscriptions() >= 1);
            for (int qos = 0; qos <= 2; qos++) {
                Tools.run(Duration.ofSeconds(10), mosquittoPub, "-h", "127.0.0.1", "-p", port, "-V",
                        qos == 1 ? "mqttv311" : "mqttv5", "-q", String.valueOf(qos), "-t", "m/" + qos, "-m", "hello " + qos);
            }
            assertThat(sub.waitFor(Duration.ofSeconds(15))).isZero();
            assertThat(sub.lines()).containsExactly("m/0 0 hello 0", "m/1 1 hello 1", "m/2 2 hello 2");
        }
        assertThat(t.handler.topics()).containsExactly("m/0", "m/1", "m/2");
    }

    @Test
    void retainedMessageReachesLateSubscriberUntilClearedByEmptyPayload() throws Exception {
        Mqtt5AsyncClient pub = t.connectedV5("pub");
        pub.publishWith().topic("r/lamp").payload(utf8("on")).qos(MqttQos.AT_LEAST_ONCE).retain(true).send()
                .get(5, TimeUnit.SECONDS);

        Mqtt5AsyncClient late = t.connectedV5("late");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        late.subscribeWith().topicFilter("r/+").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(got.get(0).isRetain()).isTrue();
        assertThat(text(got.get(0))).isEqualTo("on");

        pub.publishWith().topic("r/lamp").payload(new byte[0]).qos(MqttQos.AT_LEAST_ONCE).retain(true).send()
                .get(5, TimeUnit.SECONDS);
        Mqtt5AsyncClient later = t.connectedV5("later");
        List<Mqtt5Publish> gotLater = new CopyOnWriteArrayList<>();
        later.subscribeWith().topicFilter("r/lamp").qos(MqttQos.AT_LEAST_ONCE).callback(gotLater::add).send()
                .get(5, TimeUnit.SECONDS);
        // Retained messages are sent right after SUBACK, so a message published now arrives after any of them.
        pub.publishWith().topic("r/lamp").payload(utf8("marker")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> !gotLater.isEmpty());
        assertThat(text(gotLater.get(0))).isEqualTo("marker");
        assertThat(gotLater.get(0).isRetain()).isFalse();
        assertThat(t.meters.get("junction.mqtt.retained").gauge().value()).isZero();
    }

    @Test
    void mosquittoSubscriberGetsRetainedMessage() throws Exception {
        String mosquittoSub = Tools.mosquitto("mosquitto_sub");
        t.broker.publish("status/door", utf8("closed"), 1, true).get(5, TimeUnit.SECONDS);

        String out = Tools.run(Duration.ofSeconds(15), mosquittoSub, "-h", "127.0.0.1", "-p", String.valueOf(t.port()),
                "-V", "mqttv311", "-q", "1", "-t", "status/#", "-C", "1", "-W", "10", "-F", "%t %r %p");

        assertThat(out.strip()).isEqualTo("status/door 1 closed");
    }

    @Test
    void serverPublishReachesSubscribersAndIsNotIngested() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("sub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("dev/+/cmd").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send()
                .get(5, TimeUnit.SECONDS);

        int sessions = t.broker.publish("dev/42/cmd", utf8("reboot"), 1, false).get(5, TimeUnit.SECONDS);
        int nobody = t.broker.publish("dev/42/other", utf8("x"), 1, false).get(5, TimeUnit.SECONDS);

        assertThat(sessions).isEqualTo(1);
        assertThat(nobody).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(text(got.get(0))).isEqualTo("reboot");
        assertThat(t.handler.received).isEmpty();
    }

    @Test
    void leadingWildcardDoesNotReceiveDollarTopics() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("sub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("#").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);

        assertThat(t.broker.publish("$SYS/uptime", utf8("1"), 1, false).get(5, TimeUnit.SECONDS)).isZero();
        t.broker.publish("plain/topic", utf8("2"), 1, false).get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(got.get(0).getTopic().toString()).isEqualTo("plain/topic");
    }

    @Test
    void noLocalSubscriptionDoesNotEchoTheClientsOwnMessages() throws Exception {
        Mqtt5AsyncClient talker = t.connectedV5("talker");
        Mqtt5AsyncClient other = t.connectedV5("other");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        talker.subscribeWith().topicFilter("chat").qos(MqttQos.AT_LEAST_ONCE).noLocal(true).callback(got::add).send()
                .get(5, TimeUnit.SECONDS);

        talker.publishWith().topic("chat").payload(utf8("mine")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        other.publishWith().topic("chat").payload(utf8("theirs")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> !got.isEmpty());
        assertThat(got).extracting(PubSubTest::text).containsExactly("theirs");
    }

    @Test
    void unsubscribedClientNoLongerReceives() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("sub");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.subscribeWith().topicFilter("u/a").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);
        sub.subscribeWith().topicFilter("u/b").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send().get(5, TimeUnit.SECONDS);

        sub.unsubscribeWith().topicFilter("u/a").send().get(5, TimeUnit.SECONDS);

        assertThat(t.broker.publish("u/a", utf8("gone"), 1, false).get(5, TimeUnit.SECONDS)).isZero();
        t.broker.publish("u/b", utf8("still"), 1, false).get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 1);
        assertThat(text(got.get(0))).isEqualTo("still");
    }
}
