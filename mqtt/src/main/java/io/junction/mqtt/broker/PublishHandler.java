package io.junction.mqtt.broker;

import java.util.concurrent.CompletionStage;

/**
 * The ingest hook: where publishes from devices leave the broker for the durable streams.
 *
 * <p>Called for every publish a client is allowed to make (and for wills), in per-connection order, on the
 * connection's network thread: it must never block. The broker sends the QoS 1 PUBACK (QoS 2 PUBREC) only when
 * the returned stage completes normally, so a client's message is acknowledged only once it is durable.
 *
 * <p>A handler without room for the publish (a full append queue) returns a stage already failed with a
 * {@link BrokerOverloadedException}, and the broker's flow control does the waiting, never the handler:
 * <ul>
 *   <li>an MQTT 5 client gets reason code 0x97 (quota exceeded) for its QoS 1/2 publish;</li>
 *   <li>an MQTT 3.1.1 client, which has no negative acknowledgement, is not disconnected: its connection stops
 *       reading, parks what already arrived, and offers the same publish to the handler again after a short
 *       pause (growing up to 100 ms while the refusals go on), then reads on. Nothing is acknowledged before it is
 *       durable, nothing is lost and the order is kept;</li>
 *   <li>a QoS 0 publish is dropped, and counted ({@code junction.mqtt.rejected{reason="ingest_overloaded"}}).</li>
 * </ul>
 * Any other exceptional completion (or an overload reported later than on return) gives an MQTT 5 client the reason
 * code 0x80 (unspecified error), or 0x97 for a {@link BrokerOverloadedException}, and disconnects an MQTT 3.1.1
 * client so that it sends the message again.
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
