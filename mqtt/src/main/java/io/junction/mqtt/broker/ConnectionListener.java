package io.junction.mqtt.broker;

/**
 * Hears clients connect and disconnect, e.g. to publish hub events. Called on the broker's network threads:
 * implementations must return quickly and not block; an exception they throw is logged and ignored.
 */
public interface ConnectionListener {

    /** A client's connection was accepted (CONNACK success sent). */
    void connected(ClientInfo client);

    /** A client's accepted connection ended. */
    void disconnected(ClientInfo client, DisconnectReason reason);
}
