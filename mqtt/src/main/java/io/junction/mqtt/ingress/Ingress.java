package io.junction.mqtt.ingress;

import io.junction.core.Ids;
import io.junction.core.Message;
import io.junction.core.stream.MessageStream;
import io.junction.mqtt.broker.InboundPublish;
import io.junction.mqtt.broker.PublishHandler;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The broker's publish handler: maps the topic, wraps the payload in an envelope (id, receive time, topic) and
 * appends it to the raw stream. The returned stage completes when the message is durable, which is when the broker
 * acknowledges a QoS 1 publish.
 */
public final class Ingress implements PublishHandler {

    private static final CompletableFuture<Void> NOT_INGESTED = CompletableFuture.completedFuture(null);

    private final TopicMapping mapping;
    private final MessageStream raw;
    private final Counter ingested;
    private final Counter brokerOnly;

    public Ingress(TopicMapping mapping, MessageStream raw, MeterRegistry registry) {
        this.mapping = mapping;
        this.raw = raw;
        this.ingested = Counter.builder("junction.ingress.messages").description("Messages appended to the raw stream from devices").register(registry);
        this.brokerOnly = Counter.builder("junction.ingress.broker_only").description("Publishes on command topics, delivered by the broker and not recorded").register(registry);
    }

    @Override
    public CompletionStage<?> onPublish(InboundPublish publish) {
        Optional<Route> route = mapping.ingress(publish.topic());
        if (route.isEmpty()) {
            brokerOnly.increment();
            return NOT_INGESTED;
        }
        Route r = route.get();
        long ts = publish.receivedAtMillis();
        Message message = new Message(Ids.next(ts), ts, publish.topic(), r.key(), r.device(), r.kind(), PreProcessor.body(publish.payload()));
        ingested.increment();
        return raw.append(message);
    }
}
