package io.junction.devices;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.auth.Principal;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * What jobs (and scripts) need of the modules: call a function as someone, know a module's driver, and hear before a
 * module stops so a job can put its device in a neutral state first.
 */
public interface ModuleCalls extends io.junction.core.device.FunctionCalls {

    /**
     * Calls {@code function} on module {@code moduleId} as {@code caller}: arguments checked against the metadata,
     * the caller's role against its security, run on the module's actor with the exec timeout. Fails with
     * {@link io.junction.devices.driver.ExecException}.
     */
    @Override
    CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args);

    /** The id of the driver module {@code moduleId} runs; empty when there is no such module. */
    Optional<String> driverOf(String moduleId);

    /**
     * {@code listener} is called with a module's id just before the module stops (stopped through the API, deleted,
     * or the server shutting down), while it still answers calls; the module waits for the listener to return.
     */
    void onStopping(Consumer<String> listener);
}
