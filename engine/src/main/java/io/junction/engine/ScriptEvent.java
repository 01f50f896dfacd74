package io.junction.engine;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/**
 * A change in a script's life, on the event hub under {@code engine.script.<event>}: {@code stored}, {@code deleted},
 * {@code suspended}, {@code failed} (it could not start), {@code replay-finished}.
 */
public record ScriptEvent(String script, String event, long version, String detail) implements HubEvent {

    @Override
    public RoutingKey key() {
        return RoutingKey.of("engine.script." + event);
    }
}
