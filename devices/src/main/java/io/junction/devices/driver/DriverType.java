package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * A loaded driver: its metadata, where its code came from, and how to make instances and call their functions. A
 * Java class ({@link JavaDriverType}) and a generic MQTT driver configured without code ({@link MqttDriverType}) are
 * both driver types; modules do not know which they run.
 */
public interface DriverType {

    DriverMetadata metadata();

    /** Where the code came from, for people: {@code built-in}, {@code junction.toml:12}, {@code plugin pump.jar (v2)}. */
    String source();

    /** A new instance for one module. */
    Driver create() throws Exception;

    /**
     * Calls a function whose arguments {@link Arguments#check} has checked, on the module's actor. Answers the result
     * as anything Jackson writes as JSON, or a {@code CompletionStage} of it for work that finishes later.
     */
    Object call(Driver instance, FunctionSpec function, List<JsonNode> args) throws Throwable;

    /** The jobs this driver offers (see {@link JobSource}), in the {@code [[jobs]]} shape; none by default. */
    default List<com.fasterxml.jackson.databind.node.ObjectNode> jobs() {
        return List.of();
    }
}
