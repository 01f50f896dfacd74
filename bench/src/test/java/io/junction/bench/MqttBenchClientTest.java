package io.junction.bench;

import io.junction.core.testing.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The load generator's MQTT client against a real Mosquitto started for the test. */
class MqttBenchClientTest {

    private static Mosquitto mosquitto;
    private static MqttBenchClient client;

    @BeforeAll
    static void start() throws Exception {
        String exe = Tools.require("mosquitto", "mosquitto");
        mosquitto = Mosquitto.start(Path.of(exe));
        client = new MqttBenchClient(2);
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
        if (mosquitto != null) {
            mosquitto.close();
        }
    }

    private static MqttConnection subscriber(String filter, int qos, Set<String> seen) {
        Payload p = new Payload();
        MqttConnection sub = client.connect("127.0.0.1", mosquitto.port(), "test-sub-" + qos + "-" + System.nanoTime(),
                (topic, payload) -> {
                    if (p.parse(payload)) {
                        seen.add(topic + "#" + p.run + "/" + p.device + "/" + p.seq);
                    }
                }).join();
        sub.subscribe(filter, qos).join();
        return sub;
    }

    @Test
    void qos1PublishesAreAckedAndEveryAckedOneIsDelivered() {
        Set<String> seen = ConcurrentHashMap.newKeySet();
        MqttConnection sub = subscriber("t1/#", 1, seen);
        MqttConnection pub = client.connect("127.0.0.1", mosquitto.port(), "test-pub-1", null).join();
        BitSet acked = new BitSet();
        pub.start(new MqttConnection.Plan("t1/5/value", 1, 100, 9, 5, 2000, 8,
                (device, seq, sentAt, ackAt) -> {
                    assertThat(device).isEqualTo(5);
                    acked.set((int) seq);
                }));
        await().atMost(Duration.ofSeconds(30)).until(() -> pub.acked() >= 300);
        pub.stop();
        assertThat(pub.awaitAcks(Duration.ofSeconds(10))).isTrue();
        long n = pub.acked();
        assertThat(pub.inFlight()).isZero();
        assertThat(pub.sent()).isEqualTo(n);
        assertThat(acked.cardinality()).isEqualTo((int) n);
        assertThat(acked.nextClearBit(0)).isEqualTo((int) n);   // seqs 0..n-1, none missing
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() >= n);
        for (int s = 0; s < n; s++) {
            assertThat(seen).contains("t1/5/value#9/5/" + s);
        }
        pub.close();
        sub.close();
        assertThat(pub.error()).isNull();
    }

    @Test
    void qos0FloodAtFullSpeedIsDelivered() {
        Set<String> seen = ConcurrentHashMap.newKeySet();
        MqttConnection sub = subscriber("t0/#", 0, seen);
        MqttConnection pub = client.connect("127.0.0.1", mosquitto.port(), "test-pub-0", null).join();
        pub.start(new MqttConnection.Plan("t0/1/value", 0, 64, 3, 1, 0, 1, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> pub.sent() >= 5_000);
        pub.stop();
        long sent = pub.sent();
        assertThat(pub.acked()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() >= 1_000);
        assertThat((long) seen.size()).isLessThanOrEqualTo(sent);
        pub.close();
        sub.close();
    }

    @Test
    void aReceiverSeesSamplesOfItsRunOnly() {
        Receiver r = new Receiver();
        r.begin(4);
        r.openWindow(Long.MIN_VALUE + 1);
        Payload p = new Payload();
        p.run = 4;
        p.t = System.nanoTime() - 2_000_000;
        r.onSample(p);
        p.run = 5;
        r.onSample(p);
        assertThat(r.received.get()).isEqualTo(1);
        assertThat(r.otherRuns.get()).isEqualTo(1);
        assertThat(r.latency.count()).isEqualTo(1);
        assertThat(r.latency.max()).isGreaterThanOrEqualTo(2_000);
    }

    @Test
    void connectingToAClosedPortFails() {
        int port = Tools.freePort();
        assertThatThrownBy(() -> client.connect("127.0.0.1", port, "nobody", null).join())
                .isInstanceOf(CompletionException.class);
    }
}
