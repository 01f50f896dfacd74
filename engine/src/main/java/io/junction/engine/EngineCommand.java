package io.junction.engine;

import io.junction.core.RoutingPattern;
import io.junction.core.actor.Request;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** What the {@link Engine}'s actor is asked to do: the changes to the set of scripts, one at a time. */
sealed interface EngineCommand {

    /** Check, save and swap in a script (a new one, or a new version of one); the reply is the script afterwards. */
    record Store(ScriptSource source, CompletableFuture<ScriptInfo> reply) implements EngineCommand, Request<ScriptInfo> {
    }

    /** Store a module found in the plugins folder unless it is the running version already; the reply says whether it was. */
    record StorePlugin(String name, byte[] module, Optional<List<RoutingPattern>> bind, CompletableFuture<Boolean> reply)
            implements EngineCommand, Request<Boolean> {
    }

    /** Delete a script (only one from the plugins folder when {@code pluginOnly}); the reply says whether there was one. */
    record Delete(String name, boolean pluginOnly, CompletableFuture<Boolean> reply) implements EngineCommand, Request<Boolean> {
    }
}
