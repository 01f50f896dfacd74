package io.junction.engine;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.status.StatusStore;
import io.junction.core.auth.Principal;
import io.junction.core.device.FunctionCalls;
import io.junction.core.device.ModuleRef;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import java.util.List;
import java.util.Optional;

/**
 * What a script may reach outside itself: the status of routing keys (read only), its own log, and {@code exec} on
 * modules as the script's owner (live only: a replay must not drive devices again).
 */
final class Host {

    private final Optional<StatusStore> status;
    final String scriptName;
    final List<String> bind;
    final LogRing logs;
    private final Optional<FunctionCalls> calls;
    private final Principal owner;
    private final long timeoutMillis;
    private final boolean live;

    Host(Optional<StatusStore> status, String scriptName, List<String> bind, LogRing logs) {
        this(status, scriptName, bind, logs, Optional.empty(), ScriptSource.NO_OWNER, 1_000, true);
    }

    Host(Optional<StatusStore> status, String scriptName, List<String> bind, LogRing logs, Optional<FunctionCalls> calls,
         Principal owner, long timeoutMillis, boolean live) {
        this.status = status;
        this.scriptName = scriptName;
        this.bind = bind;
        this.logs = logs;
        this.calls = calls;
        this.owner = owner;
        this.timeoutMillis = timeoutMillis;
        this.live = live;
    }

    /**
     * Calls {@code function} on a module as the script's owner and waits for the answer (within the script's time
     * limit). {@code target} is a module id ({@code pump-1}) or a system and module ({@code boardroom/Display_1});
     * {@code argsJson} is a JSON object (by name), array (by position) or null. Answers the result as JSON text;
     * throws {@link IllegalStateException} with the reason when the call is refused or fails.
     */
    String execJson(String target, String function, String argsJson) {
        if (!live) {
            throw new IllegalStateException("exec is not available while replaying: a replay must not drive devices again");
        }
        FunctionCalls c = calls.orElseThrow(() -> new IllegalStateException("exec is not available: this server runs no modules"));
        JsonNode args;
        try {
            args = argsJson == null || argsJson.isEmpty() ? NullNode.getInstance() : Json.parse(argsJson);
        } catch (Exception e) {
            throw new IllegalStateException("exec arguments are not JSON: " + e.getMessage());
        }
        CompletableFuture<JsonNode> call;
        int slash = target.indexOf('/');
        if (slash > 0) {
            ModuleRef ref;
            try {
                ref = ModuleRef.parse(target.substring(slash + 1));
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("exec " + target + ": " + e.getMessage());
            }
            call = c.exec(owner, target.substring(0, slash), ref.name(), ref.index(), function, args);
        } else {
            call = c.exec(owner, target, function, args);
        }
        try {
            return Json.write(call.get(timeoutMillis, TimeUnit.MILLISECONDS));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new IllegalStateException("exec " + target + "." + function + " failed: " + cause.getMessage());
        } catch (TimeoutException e) {
            throw new IllegalStateException("exec " + target + "." + function + " did not answer within " + timeoutMillis + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("exec " + target + "." + function + " was interrupted");
        }
    }

    /** The last message of {@code key} as JSON, or empty when there is none or the key is not a routing key. */
    Optional<String> statusJson(String key) {
        Optional<Message> m = statusMessage(key);
        return m.map(x -> Json.messageToJson(x, -1));
    }

    Optional<Message> statusMessage(String key) {
        if (status.isEmpty() || key == null || !RoutingKey.isValid(key)) {
            return Optional.empty();
        }
        return status.get().get(RoutingKey.of(key));
    }

    void log(String line) {
        logs.add(line);
    }
}
