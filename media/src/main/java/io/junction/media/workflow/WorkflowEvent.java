package io.junction.media.workflow;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/**
 * A workflow's lifecycle on the event hub: {@code workflow.started} (every step active), {@code workflow.stopped},
 * {@code workflow.failed} (a step failed; {@code detail} says which and why).
 */
public record WorkflowEvent(String workflow, String state, String source, String detail) implements HubEvent {

    @Override
    public RoutingKey key() {
        return RoutingKey.of("workflow." + state);
    }
}
