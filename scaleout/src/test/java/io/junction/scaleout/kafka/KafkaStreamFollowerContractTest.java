package io.junction.scaleout.kafka;

import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFollowerContract;
import io.junction.scaleout.EngineHealth;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** The follower's guarantees over Kafka, whose taps are fed by the stream's tail consumer. */
class KafkaStreamFollowerContractTest extends StreamFollowerContract {

    @Override
    protected MessageStream openStream(String name) {
        return KafkaStream.open(name, KafkaTesting.fresh(10_000), new SimpleMeterRegistry(), EngineHealth.NONE);
    }
}
