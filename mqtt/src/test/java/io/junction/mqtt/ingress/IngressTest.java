package io.junction.mqtt.ingress;

import io.junction.core.Message;
import io.junction.core.config.JunctionConfig;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFullException;
import io.junction.core.testing.MemoryStream;
import io.junction.mqtt.broker.BrokerOverloadedException;
import io.junction.mqtt.broker.InboundPublish;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

class IngressTest {

    private final TopicMapping mapping = new TopicMapping(new JunctionConfig.Mapping(
            Map.of("mesh/b5ea3f/42", "bedroom.light"), Map.of("M", "brightness"), "status", "command"));

    private static InboundPublish publish(String topic, String payload) {
        return new InboundPublish("c1", Optional.empty(), "c1", topic, payload.getBytes(StandardCharsets.UTF_8), 1, false,
                1_700_000_000_000L, false);
    }

    @Test
    void aMappedPublishIsAppendedAndItsStageCompletesWithTheOffset() {
        MemoryStream raw = new MemoryStream("raw");
        Ingress ingress = new Ingress(mapping, raw, new SimpleMeterRegistry());
        CompletionStage<?> stage = ingress.onPublish(publish("mesh/b5ea3f/42/M/status", "255"));
        assertThat(stage.toCompletableFuture().join()).isEqualTo(0L);
        Message m = raw.read(0, 1).getFirst().message();
        assertThat(m.key().value()).isEqualTo("bedroom.light.brightness");
        assertThat(m.body()).isEqualTo("{\"value\":255}");
    }

    @Test
    void aFullStreamIsAnOverloadTheBrokerAnswersAtOnce() {
        FullStream raw = new FullStream();
        Ingress ingress = new Ingress(mapping, raw, new SimpleMeterRegistry());
        CompletableFuture<?> refused = ingress.onPublish(publish("mesh/b5ea3f/42/M/status", "1")).toCompletableFuture();
        assertThat(refused).as("refused on return, not later").isCompletedExceptionally();
        assertThat(refused.exceptionNow()).isInstanceOf(BrokerOverloadedException.class)
                .hasCauseInstanceOf(StreamFullException.class)
                .hasMessageContaining("append queue is full");

        raw.full = false;
        assertThat(ingress.onPublish(publish("mesh/b5ea3f/42/M/status", "2")).toCompletableFuture().join()).isEqualTo(0L);
    }

    /** A stream whose append queue is full until told otherwise. */
    private static final class FullStream implements MessageStream {
        private final MemoryStream inner = new MemoryStream("raw");
        volatile boolean full = true;

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public CompletableFuture<Long> append(Message message) {
            return full ? CompletableFuture.failedFuture(new StreamFullException(name())) : inner.append(message);
        }

        @Override
        public CompletableFuture<Long> appendWaiting(Message message) {
            return inner.append(message);
        }

        @Override
        public List<StreamEntry> read(long fromOffset, int max) {
            return inner.read(fromOffset, max);
        }

        @Override
        public long offsetAt(long epochMillis) {
            return inner.offsetAt(epochMillis);
        }

        @Override
        public long endOffset() {
            return inner.endOffset();
        }

        @Override
        public long startOffset() {
            return inner.startOffset();
        }

        @Override
        public long sizeBytes() {
            return inner.sizeBytes();
        }

        @Override
        public Tap tap(Consumer<StreamEntry> listener) {
            return inner.tap(listener);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
