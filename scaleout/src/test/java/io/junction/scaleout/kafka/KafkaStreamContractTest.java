package io.junction.scaleout.kafka;

import io.junction.core.stream.MessageStream;
import io.junction.core.stream.MessageStreamContract;
import io.junction.scaleout.EngineHealth;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.util.Optional;

/** The streams contract over Kafka: the shared real broker, a topic of its own per stream. */
class KafkaStreamContractTest extends MessageStreamContract {

    @Override
    protected MessageStream openStream(String name) {
        return KafkaStream.open(name, KafkaTesting.fresh(10_000), new SimpleMeterRegistry(), EngineHealth.NONE);
    }

    @Override
    protected Optional<MessageStream> openBounded(String name, int capacity) {
        return Optional.of(KafkaStream.open(name, KafkaTesting.fresh(capacity), new SimpleMeterRegistry(), EngineHealth.NONE));
    }
}
