package io.junction.core.hub;

import io.junction.core.RoutingKey;

/** Published under {@code component.<status>} whenever a registered component changes state. */
public record ComponentEvent(String component, ComponentState.Status status, String detail) implements HubEvent {

    @Override
    public RoutingKey key() {
        return RoutingKey.of("component." + status.name().toLowerCase(java.util.Locale.ROOT));
    }
}
