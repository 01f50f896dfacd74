package io.junction.ota;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/**
 * What the OTA service publishes on the hub (and so on the WebSocket, {@code "source": "events"}): a device's state
 * change in a rollout under {@code ota.<state>} ({@code ota.offered}, {@code ota.installed}, ...), and the life of
 * rollouts and packages under {@code ota.rollout.<what>} and {@code ota.package.<what>}.
 *
 * @param event   the key's words after {@code ota.}: {@code installed}, {@code rollout.paused}, ...
 * @param rollout the rollout id, or empty
 * @param device  the device uid, or empty
 * @param reason  why (a device's failure reason, a timeout), or empty
 */
public record OtaEvent(String event, String rollout, String packageId, String version, String device, String reason,
                       long ts) implements HubEvent {

    @Override
    public RoutingKey key() {
        return RoutingKey.of("ota." + event);
    }
}
