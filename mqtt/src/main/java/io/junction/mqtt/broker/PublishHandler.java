package io.junction.mqtt.broker;

import java.util.concurrent.CompletionStage;

/**
 * The ingest hook: where publishes from devices leave the broker for the durable streams.
 *
 * <p>Called for every publish a client is allowed to make (and for wills), in per-connection order, on the
 * connection's network thread: it must not block. The broker sends the QoS 1 PUBACK (QoS 2 PUBREC) only when
 * the returned stage completes normally, so a client's message is acknowledged only once it is durable. An
 * exceptional completion gives an MQTT 5 client the reason code 0x80 (unspecified error), or 0x97 (quota
 * exceeded) when the exception is a {@link BrokerOverloadedException}; an MQTT 3.1.1 client, which has no
 * negative acknowledgement, is disconnected so that it sends the message again.
 *
 * <p>Whether a topic matters is the handler's decision: it may return a completed stage for topics it ignores.
 * While a connection has {@link BrokerSettings#receiveMaximum()} stages outstanding, the broker stops reading
 * from that connection.
 */
@FunctionalInterface
public interface PublishHandler {

    /** Takes one publish; the stage completes when it is safely stored (or fails if it could not be). */
    CompletionStage<?> onPublish(InboundPublish publish);
}
