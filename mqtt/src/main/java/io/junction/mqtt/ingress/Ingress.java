package io.junction.mqtt.ingress;

import io.junction.core.Ids;
import io.junction.core.Message;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFullException;
import io.junction.mqtt.broker.BrokerOverloadedException;
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
 *
 * <p>It runs on the connection's event loop and never blocks it: {@link MessageStream#append} only offers the message
 * to the stream's bounded queue. When that queue is full the append fails at once with a
 * {@link StreamFullException}, which this turns into a {@link BrokerOverloadedException}: the broker then answers an
 * MQTT 5 client with reason code 0x97 (quota exceeded), makes an MQTT 3.1.1 connection pause reading and offer the
 * same publish again shortly (see {@link PublishHandler}), and drops and counts a refused QoS 0 publish.
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
        CompletableFuture<Long> appended = raw.append(message);
        if (appended.isCompletedExceptionally() && appended.exceptionNow() instanceof StreamFullException full) {
            return CompletableFuture.failedFuture(new BrokerOverloadedException(full.getMessage(), full));
        }
        ingested.increment();
        return appended;
    }
}
