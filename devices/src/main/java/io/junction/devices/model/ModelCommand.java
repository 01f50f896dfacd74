package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.actor.Request;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.MqttDriverType;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * What the device model's actor ({@link DeviceModel}) is asked to do. Each change to modules, systems and drivers is
 * one command, so its check and its act happen in one turn; reads and exec use the snapshot the actor publishes.
 */
sealed interface ModelCommand {

    /** Start every module stored as running, in the order they were created, and route the raw stream to them via {@code feed}. */
    record StartAll(ModuleFeed feed, CompletableFuture<Void> reply) implements ModelCommand, Request<Void> {
    }

    /** Stop every running module, jobs hearing of each first (shutdown). */
    record StopAll(CompletableFuture<Void> reply) implements ModelCommand, Request<Void> {
    }

    /** Create a module and start it unless it asks not to run. */
    record CreateModule(ModuleSpec.Draft draft, CompletableFuture<ModuleSpec> reply) implements ModelCommand, Request<ModuleSpec> {
    }

    /** Change a module's name, device or settings; a running module restarts with them. */
    record UpdateModule(ModuleId id, ModuleSpec.Change change, CompletableFuture<ModuleSpec> reply) implements ModelCommand, Request<ModuleSpec> {
    }

    /** Start or stop a module, and remember which so a restart does the same. */
    record SetRunning(ModuleId id, boolean running, CompletableFuture<ModuleSpec> reply) implements ModelCommand, Request<ModuleSpec> {
    }

    /** Stop a module, take it out of every system and forget its status. */
    record DeleteModule(ModuleId id, CompletableFuture<Void> reply) implements ModelCommand, Request<Void> {
    }

    /** Create a system of existing modules. */
    record CreateSystem(SystemSpec.Draft draft, CompletableFuture<SystemSpec> reply) implements ModelCommand, Request<SystemSpec> {
    }

    /** Rename a system or replace its ordered module list. */
    record UpdateSystem(SystemId id, SystemSpec.Change change, CompletableFuture<SystemSpec> reply) implements ModelCommand, Request<SystemSpec> {
    }

    /** Delete a system (its modules stay). */
    record DeleteSystem(SystemId id, CompletableFuture<Void> reply) implements ModelCommand, Request<Void> {
    }

    /** Keep a generic driver defined through the API and load it; answers whether it replaced one. */
    record DefineDriver(MqttDriverType type, JsonNode definition, CompletableFuture<Boolean> reply) implements ModelCommand, Request<Boolean> {
    }

    /** The catalog replaced a driver (new plugin code, a new definition): restart the modules that run it. */
    record DriverReplaced(DriverType type) implements ModelCommand {
    }

    /** A module's followed keys changed: rebuild the routes of the raw stream. */
    record Rerouted() implements ModelCommand {
    }

    /** Bind {@code listener} to a status variable of the module at {@code ref} in a system; answers the binding. */
    record Bind(SystemId system, ModuleRef ref, String status, Consumer<String> listener, CompletableFuture<AutoCloseable> reply)
            implements ModelCommand, Request<AutoCloseable> {
    }

    /** Forget a binding its client closed. */
    record Unbind(Bindings.Binding binding) implements ModelCommand {
    }

    /**
     * Bindings were marked stale from another thread (a system's lookup was replaced, the status port resynced): catch
     * them up. One command stands for any number of marks.
     */
    record Reindex() implements ModelCommand {
    }
}
