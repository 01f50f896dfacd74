package io.junction.mqtt.ingress;

import io.junction.core.Ids;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.egress.CommandSender;
import io.junction.core.stream.MessageStream;
import io.junction.mqtt.broker.MqttBroker;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;

/**
 * Sends commands to devices: the mapping reversed gives the topic, the command is recorded in the raw stream as a
 * {@code command} and, once durable, published at QoS 1.
 */
public final class Egress implements CommandSender {

    private final TopicMapping mapping;
    private final MessageStream raw;
    private final MqttBroker broker;
    private final Clock clock;

    public Egress(TopicMapping mapping, MessageStream raw, MqttBroker broker, Clock clock) {
        this.mapping = mapping;
        this.raw = raw;
        this.broker = broker;
        this.clock = clock;
    }

    @Override
    public CompletableFuture<Message> send(RoutingKey key, String body) {
        TopicMapping.Egress to = mapping.egress(key);
        long ts = clock.millis();
        Message command = new Message(Ids.next(ts), ts, to.topic(), key, to.device(), Message.COMMAND, body);
        return raw.append(command)
                .thenCompose(offset -> broker.publish(to.topic(), body.getBytes(StandardCharsets.UTF_8), 1, false))
                .thenApply(delivered -> command);
    }
}
