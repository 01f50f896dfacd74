package io.junction.core.device;

import java.util.concurrent.CompletableFuture;

/**
 * The MQTT transport port for components that answer devices on protocol topics of their own (OTA offers and
 * download chunks, for example): publishes bytes on a topic as the server. What is published here is not recorded in
 * the streams; commands that should be recorded go through {@link io.junction.core.egress.CommandSender}.
 */
public interface DevicePublisher {

    /**
     * Delivers {@code payload} to the sessions subscribed to {@code topic}; completes with how many it reached.
     * Fails with an {@link IllegalArgumentException} for a topic with wildcards or a payload over the limit.
     */
    CompletableFuture<Integer> publish(String topic, byte[] payload, int qos, boolean retain);
}
