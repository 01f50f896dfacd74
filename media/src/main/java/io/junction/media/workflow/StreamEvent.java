package io.junction.media.workflow;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

/** A stream starting or stopping in a workflow, on the event hub: {@code stream.started}, {@code stream.stopped}. */
public record StreamEvent(String workflow, String stream, String state, String from) implements HubEvent {

    @Override
    public RoutingKey key() {
        return RoutingKey.of("stream." + state);
    }
}
