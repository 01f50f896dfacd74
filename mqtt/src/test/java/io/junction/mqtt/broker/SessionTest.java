package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.MqttGlobalPublishFilter;
import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.message.publish.Mqtt3Publish;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAck;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

class SessionTest {

    @AutoClose
    private TestBroker t = TestBroker.anonymous();

    @Test
    void persistentMqtt5SessionReceivesQos1MessagesPublishedWhileOffline() throws Exception {
        Mqtt5AsyncClient sub = t.v5("keeper");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.publishes(MqttGlobalPublishFilter.ALL, got::add);
        sub.connectWith().cleanStart(true).sessionExpiryInterval(300).send().get(5, TimeUnit.SECONDS);
        sub.subscribeWith().topicFilter("q/#").qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        sub.disconnect().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("keeper").orElseThrow().connected());

        for (int i = 1; i <= 3; i++) {
            assertThat(t.broker.publish("q/" + i, utf8("m" + i), 1, false).get(5, TimeUnit.SECONDS)).isEqualTo(1);
        }
        Mqtt5ConnAck ack = sub.connectWith().cleanStart(false).sessionExpiryInterval(300).send().get(5, TimeUnit.SECONDS);

        assertThat(ack.isSessionPresent()).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 3);
        assertThat(got).extracting(p -> p.getTopic().toString()).containsExactly("q/1", "q/2", "q/3");
    }

    @Test
    void persistentMqtt311SessionKeepsSubscriptionsAndQueuedMessages() throws Exception {
        Mqtt3AsyncClient sub = t.v3("keeper3");
        List<Mqtt3Publish> got = new CopyOnWriteArrayList<>();
        sub.publishes(MqttGlobalPublishFilter.ALL, got::add);
        sub.connectWith().cleanSession(false).send().get(5, TimeUnit.SECONDS);
        sub.subscribeWith().topicFilter("q3/+").qos(MqttQos.EXACTLY_ONCE).send().get(5, TimeUnit.SECONDS);
        sub.disconnect().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("keeper3").orElseThrow().connected());

        Mqtt5AsyncClient pub = t.connectedV5("pub");
        pub.publishWith().topic("q3/a").payload(utf8("a")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        pub.publishWith().topic("q3/b").payload(utf8("b")).qos(MqttQos.EXACTLY_ONCE).send().get(5, TimeUnit.SECONDS);
        pub.publishWith().topic("q3/c").payload(utf8("lost")).qos(MqttQos.AT_MOST_ONCE).send().get(5, TimeUnit.SECONDS);
        // A QoS 0 send completes once written, not once routed: a QoS 1 publish behind it on the same connection is
        // acknowledged only after the broker has routed q3/c, so the offline session has seen (and not kept) it.
        pub.publishWith().topic("fence/x").payload(utf8("fence")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        sub.connectWith().cleanSession(false).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() >= 2);
        assertThat(got).extracting(p -> p.getTopic().toString()).containsExactly("q3/a", "q3/b");
        assertThat(got).extracting(Mqtt3Publish::getQos).containsExactly(MqttQos.AT_LEAST_ONCE, MqttQos.EXACTLY_ONCE);
    }

    @Test
    void cleanSessionForgetsSubscriptionsOnDisconnect() throws Exception {
        Mqtt5AsyncClient sub = t.connectedV5("forgetful");
        sub.subscribeWith().topicFilter("f/#").qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        sub.disconnect().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> t.broker.sessionCount() == 0);
        assertThat(t.broker.publish("f/x", utf8("x"), 1, false).get(5, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void offlineQueueDropsTheOldestMessageWhenFullAndCountsIt() throws Exception {
        t.close();
        t = new TestBroker(BrokerSettings.builder().anonymous(true).maxQueuedPerSession(3));
        Mqtt5AsyncClient sub = t.v5("slowpoke");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        sub.publishes(MqttGlobalPublishFilter.ALL, got::add);
        sub.connectWith().sessionExpiryInterval(60).send().get(5, TimeUnit.SECONDS);
        sub.subscribeWith().topicFilter("d/#").qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        sub.disconnect().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("slowpoke").orElseThrow().connected());

        for (int i = 1; i <= 5; i++) {
            t.broker.publish("d/" + i, utf8("m" + i), 1, false).get(5, TimeUnit.SECONDS);
        }
        sub.connectWith().cleanStart(false).sessionExpiryInterval(60).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 3);
        assertThat(got).extracting(p -> p.getTopic().toString()).containsExactly("d/3", "d/4", "d/5");
        assertThat(t.meters.get("junction.mqtt.drops").tag("reason", "queue_full").counter().count()).isEqualTo(2);
    }

    @Test
    void willIsPublishedOnAbruptCloseButNotOnCleanDisconnect() throws Exception {
        Mqtt5AsyncClient watcher = t.connectedV5("watcher");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        watcher.subscribeWith().topicFilter("will/#").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send()
                .get(5, TimeUnit.SECONDS);

        RawMqtt clean = t.raw();
        clean.send(RawMqtt.connectPacket(4, "clean-leaver", 60, true, "will/clean", utf8("clean gone"), null));
        assertThat(clean.read().type()).isEqualTo(2);
        clean.send(RawMqtt.disconnectPacket());
        clean.awaitClosed(Duration.ofSeconds(5));

        RawMqtt abrupt = t.raw();
        abrupt.send(RawMqtt.connectPacket(5, "abrupt-leaver", 60, true, "will/abrupt", utf8("abrupt gone"), null));
        assertThat(abrupt.read().type()).isEqualTo(2);
        abrupt.close();

        await().atMost(Duration.ofSeconds(5)).until(() -> !got.isEmpty());
        assertThat(got).extracting(p -> p.getTopic().toString()).containsExactly("will/abrupt");
        assertThat(new String(got.get(0).getPayloadAsBytes(), StandardCharsets.UTF_8)).isEqualTo("abrupt gone");
        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.sawTopic("will/abrupt"));
        assertThat(t.handler.sawTopic("will/clean")).isFalse();
    }

    @Test
    void offlineSessionIsDiscardedWhenItsExpiryIntervalIsOver() throws Exception {
        Mqtt5AsyncClient c = t.v5("short-lived");
        c.connectWith().sessionExpiryInterval(1).send().get(5, TimeUnit.SECONDS);
        c.subscribeWith().topicFilter("e/#").qos(MqttQos.AT_LEAST_ONCE).callback(p -> { }).send().get(5, TimeUnit.SECONDS);
        c.disconnect().get(5, TimeUnit.SECONDS);
        assertThat(t.broker.publish("e/1", utf8("queued"), 1, false).get(5, TimeUnit.SECONDS)).isEqualTo(1);

        await().atMost(Duration.ofSeconds(5)).until(() -> t.broker.sessionCount() == 0);
        assertThat(t.broker.publish("e/2", utf8("nobody"), 1, false).get(5, TimeUnit.SECONDS)).isZero();
        Mqtt5ConnAck again = c.connectWith().cleanStart(false).sessionExpiryInterval(1).send().get(5, TimeUnit.SECONDS);
        assertThat(again.isSessionPresent()).isFalse();
    }

    @Test
    void delayedWillIsPublishedAfterItsDelay() throws Exception {
        Mqtt5AsyncClient watcher = t.connectedV5("watcher");
        List<Mqtt5Publish> got = new CopyOnWriteArrayList<>();
        watcher.subscribeWith().topicFilter("will/#").qos(MqttQos.AT_LEAST_ONCE).callback(got::add).send()
                .get(5, TimeUnit.SECONDS);
        RawMqtt raw = t.raw();
        raw.send(RawMqtt.connect5WithDelayedWill("delayed", 60, "will/delayed", utf8("gone"), 1));
        assertThat(raw.read().type()).isEqualTo(2);

        raw.close();
        long start = System.nanoTime();

        await().atMost(Duration.ofSeconds(5)).until(() -> !got.isEmpty());
        assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(900);
        assertThat(got.get(0).getTopic().toString()).isEqualTo("will/delayed");
    }

    @Test
    void silentClientIsClosedAfterOneAndAHalfKeepAlives() throws Exception {
        RawMqtt silent = t.raw();
        assertThat(silent.connect(4, "silent", 1)).isZero();
        long start = System.nanoTime();

        silent.awaitClosed(Duration.ofSeconds(5));

        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
        assertThat(elapsedMillis).isBetween(1_000L, 4_000L);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("silent").orElseThrow().connected());
    }

    @Test
    void pingingClientStaysConnectedPastItsKeepAlive() throws Exception {
        RawMqtt pinger = t.raw();
        assertThat(pinger.connect(4, "pinger", 1)).isZero();
        long end = System.nanoTime() + 2_500_000_000L;
        while (System.nanoTime() < end) {
            pinger.send(RawMqtt.pingPacket());
            assertThat(pinger.read().type()).isEqualTo(13);
            Thread.sleep(400); // the client's own keep-alive rhythm, not synchronisation
        }
        assertThat(t.broker.client("pinger").orElseThrow().connected()).isTrue();
    }

    @Test
    void secondConnectionWithSameClientIdTakesOverTheSession() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        t.broker.addConnectionListener(new ConnectionListener() {
            @Override
            public void connected(ClientInfo client) {
                events.add("connected " + client.clientId());
            }

            @Override
            public void disconnected(ClientInfo client, DisconnectReason reason) {
                events.add("disconnected " + client.clientId() + " " + reason);
            }
        });
        RawMqtt first = t.raw();
        assertThat(first.connect(5, "twin", 60)).isZero();

        Mqtt5AsyncClient second = t.connectedV5("twin");

        assertThat(first.awaitClosed(Duration.ofSeconds(5))).isEqualTo(14); // DISCONNECT (0x8E) before the close
        await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 3);
        // The old connection reports its end before the new one is announced, so "online" state never flips back.
        assertThat(events).containsExactly("connected twin", "disconnected twin SESSION_TAKEN_OVER", "connected twin");
        assertThat(t.broker.client("twin").orElseThrow().connected()).isTrue();
        assertThat(second.getState().isConnected()).isTrue();
    }

    @Test
    void clientRegistryKeepsDisconnectedClientsWithTheirCounters() throws Exception {
        Mqtt5AsyncClient c = t.connectedV5("counted");
        c.subscribeWith().topicFilter("echo").qos(MqttQos.AT_LEAST_ONCE).callback(p -> { }).send().get(5, TimeUnit.SECONDS);
        c.publishWith().topic("echo").payload(utf8("12345")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> t.broker.client("counted").orElseThrow().messagesOut() == 1);
        c.disconnect().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> !t.broker.client("counted").orElseThrow().connected());
        ClientInfo info = t.broker.client("counted").orElseThrow();
        assertThat(info.messagesIn()).isEqualTo(1);
        assertThat(info.messagesOut()).isEqualTo(1);
        assertThat(info.bytesIn()).isGreaterThan(5);
        assertThat(info.bytesOut()).isGreaterThan(5);
        assertThat(info.protocolVersion()).isEqualTo(5);
        assertThat(info.deviceUid()).isEqualTo("counted");
        assertThat(info.username()).isEmpty();
        assertThat(info.remoteAddress()).startsWith("127.0.0.1:");
        assertThat(info.lastSeenMillis()).isGreaterThanOrEqualTo(info.connectedAtMillis());
        assertThat(t.broker.clients()).extracting(ClientInfo::clientId).contains("counted");
    }
}
