package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.exceptions.Mqtt3ConnAckException;
import com.hivemq.client.mqtt.mqtt3.exceptions.Mqtt3SubAckException;
import com.hivemq.client.mqtt.mqtt3.message.connect.connack.Mqtt3ConnAckReturnCode;
import com.hivemq.client.mqtt.mqtt3.message.subscribe.suback.Mqtt3SubAckReturnCode;
import com.hivemq.client.mqtt.mqtt5.Mqtt5AsyncClient;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5ConnAckException;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5PubAckException;
import com.hivemq.client.mqtt.mqtt5.exceptions.Mqtt5SubAckException;
import com.hivemq.client.mqtt.mqtt5.message.connect.connack.Mqtt5ConnAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.publish.Mqtt5Publish;
import com.hivemq.client.mqtt.mqtt5.message.publish.puback.Mqtt5PubAckReasonCode;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.suback.Mqtt5SubAck;
import com.hivemq.client.mqtt.mqtt5.message.subscribe.suback.Mqtt5SubAckReasonCode;
import io.junction.core.auth.PasswordHash;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

class AuthTest {

    private static String hash(String password) {
        return PasswordHash.hash(password.toCharArray(), 1_000);
    }

    @AutoClose
    private final TestBroker t = new TestBroker(BrokerSettings.builder()
            .user("dev-a", BrokerUser.device(hash("pw-a")))
            .user("dev-b", BrokerUser.device(hash("pw-b")))
            .user("dev-c", new BrokerUser(hash("pw-c"), "c-uid", List.of("shared/in/#"), List.of("shared/out/+")))
            .user("admin", BrokerUser.allowedEverything(hash("pw-admin"))));

    private Mqtt5AsyncClient login5(String clientId, String user, String password) throws Exception {
        Mqtt5AsyncClient c = t.v5(clientId);
        c.connectWith().simpleAuth().username(user).password(utf8(password)).applySimpleAuth().send().get(5, TimeUnit.SECONDS);
        return c;
    }

    private Mqtt3AsyncClient login3(String clientId, String user, String password) throws Exception {
        Mqtt3AsyncClient c = t.v3(clientId);
        c.connectWith().simpleAuth().username(user).password(utf8(password)).applySimpleAuth().send().get(5, TimeUnit.SECONDS);
        return c;
    }

    @Test
    void anonymousClientIsRefusedByDefault() {
        assertThatThrownBy(() -> t.v5("anon5").connect().get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5ConnAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.NOT_AUTHORIZED));
        assertThatThrownBy(() -> t.v3("anon3").connect().get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt3ConnAckException.class, e ->
                        assertThat(e.getMqttMessage().getReturnCode()).isEqualTo(Mqtt3ConnAckReturnCode.NOT_AUTHORIZED));
        assertThat(t.rejected("auth")).isEqualTo(2);
    }

    @Test
    void wrongPasswordAndUnknownUserAreRefused() {
        assertThatThrownBy(() -> login5("a5", "dev-a", "pw-b"))
                .cause().isInstanceOfSatisfying(Mqtt5ConnAckException.class, e -> assertThat(
                        e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD));
        assertThatThrownBy(() -> login3("a3", "dev-a", "wrong"))
                .cause().isInstanceOfSatisfying(Mqtt3ConnAckException.class, e -> assertThat(
                        e.getMqttMessage().getReturnCode()).isEqualTo(Mqtt3ConnAckReturnCode.BAD_USER_NAME_OR_PASSWORD));
        assertThatThrownBy(() -> login5("ghost", "ghost", "pw-a"))
                .cause().isInstanceOfSatisfying(Mqtt5ConnAckException.class, e -> assertThat(
                        e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD));
    }

    @Test
    void rightPasswordIsAcceptedAgainOnReconnect() throws Exception {
        Mqtt5AsyncClient first = login5("a-1", "dev-a", "pw-a");
        first.disconnect().get(5, TimeUnit.SECONDS);
        Mqtt3AsyncClient second = login3("a-2", "dev-a", "pw-a");

        assertThat(second.getState().isConnected()).isTrue();
        assertThat(t.broker.client("a-2").orElseThrow().username()).contains("dev-a");
        assertThat(t.broker.client("a-2").orElseThrow().deviceUid()).isEqualTo("dev-a");
    }

    @Test
    void deviceMayPublishOnlyUnderItsOwnUid() throws Exception {
        Mqtt5AsyncClient admin = login5("admin-1", "admin", "pw-admin");
        List<Mqtt5Publish> seen = new CopyOnWriteArrayList<>();
        admin.subscribeWith().topicFilter("#").qos(MqttQos.AT_LEAST_ONCE).callback(seen::add).send().get(5, TimeUnit.SECONDS);
        Mqtt5AsyncClient a5 = login5("a-five", "dev-a", "pw-a");
        Mqtt3AsyncClient a3 = login3("a-three", "dev-a", "pw-a");

        assertThatThrownBy(() -> a5.publishWith().topic("dev-b/cmd").payload(utf8("evil")).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5PubAckException.class, e ->
                        assertThat(e.getMqttMessage().getReasonCode()).isEqualTo(Mqtt5PubAckReasonCode.NOT_AUTHORIZED));
        // MQTT 3.1.1 cannot say no: the PUBACK comes, the message goes nowhere.
        a3.publishWith().topic("dev-b/cmd").payload(utf8("evil too")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        a3.publishWith().topic("dev-b/cmd").payload(utf8("evil qos0")).qos(MqttQos.AT_MOST_ONCE).send().get(5, TimeUnit.SECONDS);
        a5.publishWith().topic("dev-a/status").payload(utf8("mine")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(5)).until(() -> !seen.isEmpty());
        assertThat(seen).extracting(p -> p.getTopic().toString()).containsExactly("dev-a/status");
        assertThat(t.handler.topics()).containsExactly("dev-a/status");
        assertThat(t.handler.received.get(0).deviceUid()).isEqualTo("dev-a");
        assertThat(t.rejected("acl")).isEqualTo(3);
        assertThat(a3.getState().isConnected()).isTrue();
    }

    @Test
    void deviceMaySubscribeOnlyUnderItsOwnUid() throws Exception {
        Mqtt5AsyncClient a5 = login5("a-five", "dev-a", "pw-a");
        Mqtt3AsyncClient a3 = login3("a-three", "dev-a", "pw-a");

        assertThatThrownBy(() -> a5.subscribeWith().topicFilter("dev-b/#").qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5SubAckException.class, e -> assertThat(
                        e.getMqttMessage().getReasonCodes()).containsExactly(Mqtt5SubAckReasonCode.NOT_AUTHORIZED));
        assertThatThrownBy(() -> a3.subscribeWith().topicFilter("#").qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt3SubAckException.class, e -> assertThat(
                        e.getMqttMessage().getReturnCodes()).containsExactly(Mqtt3SubAckReturnCode.FAILURE));
        Mqtt5SubAck ok = a5.subscribeWith().topicFilter("dev-a/#").qos(MqttQos.AT_LEAST_ONCE).callback(p -> { }).send()
                .get(5, TimeUnit.SECONDS);

        assertThat(ok.getReasonCodes()).containsExactly(Mqtt5SubAckReasonCode.GRANTED_QOS_1);
        assertThat(t.broker.publish("dev-b/x", utf8("x"), 1, false).get(5, TimeUnit.SECONDS)).isZero();
        assertThat(t.broker.publish("dev-a/x", utf8("x"), 1, false).get(5, TimeUnit.SECONDS)).isEqualTo(1);
    }

    @Test
    void extraFiltersAndOwnUidDecideWhatADeviceMayUse() throws Exception {
        Mqtt5AsyncClient c = login5("c-client", "dev-c", "pw-c");

        c.publishWith().topic("c-uid/status").payload(utf8("1")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        c.publishWith().topic("shared/in/x").payload(utf8("2")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);
        assertThatThrownBy(() -> c.publishWith().topic("dev-c/status").payload(utf8("3")).qos(MqttQos.AT_LEAST_ONCE).send()
                .get(5, TimeUnit.SECONDS)).cause().isInstanceOf(Mqtt5PubAckException.class);
        assertThatThrownBy(() -> c.subscribeWith()
                .addSubscription().topicFilter("shared/out/a").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                .addSubscription().topicFilter("shared/out/#").qos(MqttQos.AT_LEAST_ONCE).applySubscription()
                .callback(p -> { })
                .send().get(5, TimeUnit.SECONDS))
                .cause().isInstanceOfSatisfying(Mqtt5SubAckException.class, e -> assertThat(e.getMqttMessage().getReasonCodes())
                        .containsExactly(Mqtt5SubAckReasonCode.GRANTED_QOS_1, Mqtt5SubAckReasonCode.NOT_AUTHORIZED));
        assertThat(t.handler.received).extracting(InboundPublish::deviceUid).containsOnly("c-uid");
        assertThat(t.handler.topics()).containsExactly("c-uid/status", "shared/in/x");
    }

    @Test
    void plainTextPasswordsAreRefusedInSettings() {
        assertThatThrownBy(() -> BrokerSettings.builder().user("x", BrokerUser.device("secret")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("mqtt user 'x'")
                .hasMessageContaining("hashed");
    }
}
