package io.junction.core.egress;

import io.junction.core.Message;
import io.junction.core.RoutingKey;

import java.util.concurrent.CompletableFuture;

/**
 * The egress port: turns a command for a routing key into an MQTT publish on the device's topic (the mapping
 * reversed) and records it in the raw stream as a {@code command}.
 */
public interface CommandSender {

    /**
     * Sends {@code body} (a JSON object as compact text) to the device behind {@code key}. The future completes with
     * the recorded message once it is durable and published, or exceptionally with an {@link IllegalArgumentException}
     * whose message says why the key cannot be sent to.
     */
    CompletableFuture<Message> send(RoutingKey key, String body);
}
