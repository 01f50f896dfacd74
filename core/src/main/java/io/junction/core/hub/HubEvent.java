package io.junction.core.hub;

import io.junction.core.RoutingKey;

/**
 * A typed event on the hub, such as a device connecting or a component becoming ready. Each module declares its
 * events as records implementing this interface; {@link #key()} is what subscribers match their patterns against.
 * Records are turned into JSON as they are (for the WebSocket), so their components should be plain data.
 */
public interface HubEvent {

    RoutingKey key();
}
