package io.junction.scaleout.kafka;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.KafkaTestServer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** Settings, messages and helpers for streams on a test broker, each on a topic of its own. */
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

    /**
     * Message times are recent, as a broker's are: Kafka forgets an idempotent producer's state when it reloads a log
     * whose records are stamped more than {@code producer.id.expiration.ms} (a day) ago, and then a retry after a
     * crash would be written twice.
     */
    private static final long T0 = System.currentTimeMillis();

    /** A message whose id and body say which one it is, from one of ten devices. */
    static Message message(long n) {
        return new Message("id-" + n, T0 + n, "mesh/b5ea3f/" + (n % 10) + "/M/status",
                RoutingKey.of("room.device" + (n % 10) + ".level"), "dev-" + (n % 10), Message.STATUS,
                Json.object().put("n", n).toString());
    }

    /** Every entry of the stream, read in pages. */
    static List<StreamEntry> readAll(MessageStream stream) {
        List<StreamEntry> all = new ArrayList<>();
        long from = stream.startOffset();
        while (true) {
            List<StreamEntry> page = stream.read(from, 500);
            if (page.isEmpty()) {
                return all;
            }
            all.addAll(page);
            from = page.getLast().offset() + 1;
        }
    }

    /** Remembers what a stream last said about its engine: null while up, the reason while down. */
    static final class RecordingHealth implements EngineHealth {
        final AtomicReference<String> down = new AtomicReference<>();
        volatile int downs;

        @Override
        public void up() {
            down.set(null);
        }

        @Override
        public void down(String reason) {
            if (down.getAndSet(reason) == null) {
                downs++;
            }
        }

        boolean isUp() {
            return down.get() == null;
        }
    }
}
