package io.junction.engine;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.status.StatusStore;

import java.util.List;
import java.util.Optional;

/**
 * What a script may reach outside itself: the status of routing keys (read only) and its own log. There is no
 * {@code exec} on modules yet: it needs the drivers and modules, which are not built.
 */
final class Host {

    private final Optional<StatusStore> status;
    final String scriptName;
    final List<String> bind;
    final LogRing logs;

    Host(Optional<StatusStore> status, String scriptName, List<String> bind, LogRing logs) {
        this.status = status;
        this.scriptName = scriptName;
        this.bind = bind;
        this.logs = logs;
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
