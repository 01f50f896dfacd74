package io.junction.core.device;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.auth.Principal;

import java.util.concurrent.CompletableFuture;

/**
 * The exec port: calling a function on a module as someone, for features other than the devices (scripts). The
 * devices feature implements it: arguments checked against the driver's metadata, the caller's role against the
 * function's security, run on the module's actor with a timeout. A refused or failed call completes exceptionally
 * with a message that says why.
 */
public interface FunctionCalls {

    /** Calls {@code function} on the module with id {@code moduleId}. */
    CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args);

    /** Calls {@code function} on module {@code module} number {@code index} (1-based) of system {@code systemId}. */
    CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function, JsonNode args);
}
