package io.junction.media.workflow;

import java.util.List;

/** A named chain of validated steps; media flows from each step to the next. */
public record WorkflowDefinition(String name, List<StepDefinition> steps) {

    public WorkflowDefinition {
        steps = List.copyOf(steps);
    }

    /** The index of the first {@code rtmp_receive} step that accepts the publish, or -1. */
    int receiveIndex(String app, String key) {
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i) instanceof StepDefinition.RtmpReceive r && r.accepts(app, key)) {
                return i;
            }
        }
        return -1;
    }

    boolean hasReceive() {
        for (StepDefinition s : steps) {
            if (s instanceof StepDefinition.RtmpReceive) {
                return true;
            }
        }
        return false;
    }
}
