package io.junction.mqtt.broker;

/** Why a client's accepted connection ended. */
public enum DisconnectReason {
    /** The client sent DISCONNECT. */
    CLIENT_DISCONNECT,
    /** The client sent MQTT 5 DISCONNECT with reason 0x04 (disconnect with will message). */
    CLIENT_DISCONNECT_WITH_WILL,
    /** The socket closed or failed without a DISCONNECT. */
    CONNECTION_LOST,
    /** Nothing was read from the client for 1.5 times its keep-alive. */
    KEEP_ALIVE_TIMEOUT,
    /** Another connection with the same client id took the session over. */
    SESSION_TAKEN_OVER,
    /** The client sent something invalid (malformed packet, bad topic, too large, protocol violation). */
    PROTOCOL_ERROR,
    /** The client's publish could not be stored and MQTT 3.1.1 has no negative acknowledgement. */
    INGEST_FAILED,
    /** The broker is shutting down. */
    SERVER_SHUTDOWN
}
