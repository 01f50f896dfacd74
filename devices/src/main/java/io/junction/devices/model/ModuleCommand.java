package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Message;
import io.junction.core.actor.Request;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.FunctionSpec;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What a module's actor ({@link ModuleActor}) is asked to do, one command at a time. */
sealed interface ModuleCommand {

    /** Run a function whose arguments were checked against the metadata; answer its result as JSON. */
    record Call(FunctionSpec function, List<JsonNode> args, CompletableFuture<JsonNode> reply) implements ModuleCommand, Request<JsonNode> {
    }

    /** A raw-stream message from the module's device or of a key its driver follows. */
    record Deliver(Message message) implements ModuleCommand {
    }

    /** Answer once every message delivered before this one was handled: where the raw follower may commit. */
    record Synced(CompletableFuture<Void> reply) implements ModuleCommand, Request<Void> {
    }

    /** Stop the running driver instance (if any) and start one of {@code type}: new code, or a (re)start. */
    record Swap(DriverType type, CompletableFuture<Void> reply) implements ModuleCommand, Request<Void> {
    }

    /** Stop the driver instance; every later call is refused, every later message ignored. */
    record Stop(CompletableFuture<Void> reply) implements ModuleCommand, Request<Void> {
    }
}
