package io.junction.devices;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/**
 * A change in the life of a module or a job, on the event hub under {@code devices.<what>.<event>}:
 * {@code devices.module.started|stopped|failed|restarted}, {@code devices.job.started} and
 * {@code devices.job.<final state>} ({@code done}, {@code failed}, {@code cancelled}, {@code module-stopped},
 * {@code expired}).
 *
 * @param what   {@code module} or {@code job}
 * @param id     the module's or the job's id
 * @param name   the module's driver, or the job's name
 * @param module the module (for a job); the same as {@code id} for a module
 * @param event  what happened
 * @param detail why, in words; empty when there is nothing to add
 */
public record DevicesEvent(String what, String id, String name, String module, String event, String detail) implements HubEvent {

    @JsonIgnore
    @Override
    public RoutingKey key() {
        return RoutingKey.of("devices." + what + "." + event.replace('.', '_'));
    }
}
