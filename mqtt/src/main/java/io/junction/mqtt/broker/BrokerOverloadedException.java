package io.junction.mqtt.broker;

/**
 * Completes a {@link PublishHandler} stage exceptionally when the publish was refused for lack of capacity;
 * MQTT 5 clients then get reason code 0x97 (quota exceeded) instead of 0x80.
 */
public final class BrokerOverloadedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public BrokerOverloadedException(String message) {
        super(message);
    }

    public BrokerOverloadedException(String message, Throwable cause) {
        super(message, cause);
    }
}
