package io.junction.scaleout.kafka;

import io.junction.core.stream.MessageStream;
import io.junction.core.stream.MessageStreamContract;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.KafkaTestServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.util.Map;
import java.util.Optional;

/** The streams contract over Kafka: the shared real broker, a topic of its own per stream. */
class KafkaStreamContractTest extends MessageStreamContract {

    @Override
    protected MessageStream openStream(String name) {
        return KafkaStream.open(name, KafkaTesting.fresh(10_000), new SimpleMeterRegistry(), EngineHealth.NONE);
    }

    /**
     * maxPending is the bound. The contract then appends thousands one at a time (each waits for the previous
     * acknowledgement), so the producer sends at once instead of lingering a millisecond for company that never comes.
     */
    @Override
    protected Optional<MessageStream> openBounded(String name, int capacity) {
        KafkaStream.Settings settings = new KafkaStream.Settings(KafkaTestServer.bootstrap(), KafkaTesting.freshTopic(), 1,
                (short) 1, capacity, Map.of("linger.ms", "0"));
        return Optional.of(KafkaStream.open(name, settings, new SimpleMeterRegistry(), EngineHealth.NONE));
    }
}
