package io.junction.core.device;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/** Published on the hub as {@code device.connected} or {@code device.disconnected}. */
public record DeviceEvent(String uid, String clientId, boolean connected, String reason) implements HubEvent {

    private static final RoutingKey CONNECTED = RoutingKey.of("device.connected");
    private static final RoutingKey DISCONNECTED = RoutingKey.of("device.disconnected");

    @Override
    public RoutingKey key() {
        return connected ? CONNECTED : DISCONNECTED;
    }
}
