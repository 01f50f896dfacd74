package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;

import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** What a running module gives its driver: its identity and settings, its status variables, the device, a log. */
public interface DriverContext {

    String moduleId();

    /** The module's name in systems, such as {@code Display}. */
    String moduleName();

    /** The module's settings (a JSON object; empty when none were given). */
    ObjectNode settings();

    /** The uid of the device the module is bound to; empty for a virtual module. */
    Optional<String> device();

    /** Sets a status variable; bound clients see the change. {@code value} is anything Jackson writes as JSON. */
    void status(String name, Object value);

    /** The current value of a status variable of this module. */
    Optional<JsonNode> status(String name);

    /** Delivers every raw message whose key matches {@code pattern} to {@link Driver#received}. */
    void follow(RoutingPattern pattern);

    /** Sends a command to the device behind {@code key} (the mapping reversed); completes once it is durable and published. */
    CompletableFuture<Message> send(RoutingKey key, JsonNode body);

    /** A line for the module's debug stream (WebSocket {@code debug}) and the server log at debug level. */
    void log(String line);

    Clock clock();
}
