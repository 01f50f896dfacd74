package io.junction.mqtt.broker;

import java.util.Optional;

/**
 * One publish received from a client (or a client's will), as handed to the {@link PublishHandler}.
 *
 * @param clientId the MQTT client identifier of the sender
 * @param username the user name it authenticated with; empty for anonymous clients
 * @param deviceUid the uid of the authenticated user, else the client id
 * @param topic the topic it was published to (valid: no wildcards, not empty)
 * @param payload the payload bytes, exactly as received; do not modify
 * @param qos 0, 1 or 2
 * @param retain whether the retain flag was set
 * @param receivedAtMillis when the broker read it, in epoch milliseconds
 * @param payloadIsUtf8Declared whether an MQTT 5 client declared the payload UTF-8 text (payload format
 *     indicator 1); such payloads have been checked to be valid UTF-8
 */
public record InboundPublish(
        String clientId,
        Optional<String> username,
        String deviceUid,
        String topic,
        byte[] payload,
        int qos,
        boolean retain,
        long receivedAtMillis,
        boolean payloadIsUtf8Declared) {
}
