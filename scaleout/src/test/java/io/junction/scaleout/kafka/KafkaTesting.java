package io.junction.scaleout.kafka;

import io.junction.scaleout.engines.KafkaTestServer;

import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** Settings for streams on the shared test broker, each on a topic of its own. */
final class KafkaTesting {

    private static final AtomicInteger TOPICS = new AtomicInteger();

    private KafkaTesting() {
    }

    /** A topic name no test used before, also on an external broker that outlives test runs. */
    static String freshTopic() {
        return "junction-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 1_000_000 + "-"
                + TOPICS.incrementAndGet();
    }

    static KafkaStream.Settings settings(String bootstrap, String topic, int maxPending) {
        return new KafkaStream.Settings(bootstrap, topic, 1, (short) 1, maxPending, Map.of());
    }

    /** A fresh topic on the shared broker. */
    static KafkaStream.Settings fresh(int maxPending) {
        return settings(KafkaTestServer.bootstrap(), freshTopic(), maxPending);
    }
}
