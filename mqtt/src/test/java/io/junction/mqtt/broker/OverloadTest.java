package io.junction.mqtt.broker;

import static io.junction.mqtt.broker.TestBroker.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hivemq.client.mqtt.datatypes.MqttQos;
import com.hivemq.client.mqtt.mqtt3.Mqtt3AsyncClient;
import com.hivemq.client.mqtt.mqtt3.message.publish.Mqtt3Publish;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** What a connection does when the ingest refuses a publish at once for lack of room (a full append queue). */
class OverloadTest {

    @AutoClose
    private final TestBroker t = TestBroker.anonymous();

    @Test
    void anMqtt311ConnectionPausesAndOffersTheRefusedPublishAgainKeepingOrderAndTheConnection() throws Exception {
        AtomicBoolean room = new AtomicBoolean(false);
        List<String> stored = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            if (!room.get()) {
                return CompletableFuture.failedFuture(new BrokerOverloadedException("the append queue is full"));
            }
            stored.add(p.topic());
            return CompletableFuture.completedFuture(null);
        });
        Mqtt3AsyncClient c = t.connectedV3("burst3");

        List<CompletableFuture<Mqtt3Publish>> acks = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            acks.add(c.publishWith().topic("burst/" + i).payload(utf8("m" + i))
                    .qos(i % 2 == 0 ? MqttQos.AT_LEAST_ONCE : MqttQos.EXACTLY_ONCE).send());
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> t.handler.received.size() >= 3);
        assertThat(t.handler.topics()).as("the refused publish is offered again; nothing behind it is read meanwhile")
                .containsOnly("burst/0");
        assertThat(acks).noneMatch(CompletableFuture::isDone);
        assertThat(c.getState().isConnected()).isTrue();

        room.set(true);
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        assertThat(stored).as("each stored once, in order").containsExactlyElementsOf(
                IntStream.range(0, 10).mapToObj(i -> "burst/" + i).toList());
        assertThat(c.getState().isConnected()).isTrue();
        assertThat(t.rejected("ingest_overloaded")).as("nothing was refused to the client").isZero();
    }

    @Test
    void refusalsInTheMiddleOfABurstAreOfferedAgainInPlace() throws Exception {
        Set<String> refusedOnce = ConcurrentHashMap.newKeySet();
        List<String> stored = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            int n = Integer.parseInt(p.topic().substring(p.topic().indexOf('/') + 1));
            if (n % 7 == 3 && refusedOnce.add(p.topic())) {
                return CompletableFuture.failedFuture(new BrokerOverloadedException("the append queue is full"));
            }
            stored.add(p.topic());
            return CompletableFuture.completedFuture(null);
        });
        Mqtt3AsyncClient c = t.connectedV3("bursty3");
        List<CompletableFuture<Mqtt3Publish>> acks = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            acks.add(c.publishWith().topic("b/" + i).payload(utf8("m" + i)).qos(MqttQos.AT_LEAST_ONCE).send());
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        assertThat(refusedOnce).hasSize(14);
        assertThat(stored).containsExactlyElementsOf(IntStream.range(0, 100).mapToObj(i -> "b/" + i).toList());
        assertThat(c.getState().isConnected()).isTrue();
    }

    @Test
    void aQos0PublishRefusedForLackOfRoomIsDroppedAndCounted() throws Exception {
        List<String> stored = new CopyOnWriteArrayList<>();
        t.handler.answerWith(p -> {
            if (p.qos() == 0) {
                return CompletableFuture.failedFuture(new BrokerOverloadedException("the append queue is full"));
            }
            stored.add(p.topic());
            return CompletableFuture.completedFuture(null);
        });
        Mqtt3AsyncClient c = t.connectedV3("fire-and-forget");
        for (int i = 0; i < 5; i++) {
            c.publishWith().topic("q0/" + i).payload(utf8("m" + i)).qos(MqttQos.AT_MOST_ONCE).send();
        }
        c.publishWith().topic("q1/marker").payload(utf8("marker")).qos(MqttQos.AT_LEAST_ONCE).send().get(5, TimeUnit.SECONDS);

        assertThat(stored).containsExactly("q1/marker");
        assertThat(t.handler.topics()).as("a QoS 0 publish is not offered again").hasSize(6);
        assertThat(t.rejected("ingest_overloaded")).isEqualTo(5);
        assertThat(c.getState().isConnected()).isTrue();
    }
}
