package io.junction.mqtt.broker;

import java.util.Optional;

/**
 * What the broker knows about one client: a snapshot taken when it was asked for. Clients stay listed, with
 * {@code connected} false, after they disconnect.
 *
 * @param clientId the MQTT client identifier
 * @param username the user name of its last connection; empty for anonymous clients
 * @param deviceUid the uid of the authenticated user, else the client id
 * @param connected whether it has a connection now
 * @param connectedAtMillis when its last connection was accepted, in epoch milliseconds
 * @param lastSeenMillis when a packet was last read from it, in epoch milliseconds
 * @param messagesIn PUBLISH packets received from it, over all its connections
 * @param messagesOut PUBLISH packets sent to it, over all its connections
 * @param bytesIn bytes read from it (MQTT bytes, after TLS decryption)
 * @param bytesOut bytes written to it (MQTT bytes, before TLS encryption)
 * @param remoteAddress the address of its last connection, {@code host:port}
 * @param protocolVersion the MQTT protocol level of its last connection: 3 (3.1), 4 (3.1.1) or 5
 */
public record ClientInfo(
        String clientId,
        Optional<String> username,
        String deviceUid,
        boolean connected,
        long connectedAtMillis,
        long lastSeenMillis,
        long messagesIn,
        long messagesOut,
        long bytesIn,
        long bytesOut,
        String remoteAddress,
        int protocolVersion) {
}
