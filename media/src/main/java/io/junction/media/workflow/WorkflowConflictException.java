package io.junction.media.workflow;

import java.util.Collection;
import java.util.List;

/**
 * A definition that cannot run beside the other workflows: its {@code rtmp_watch} steps would serve players on an app
 * and stream key that another workflow already serves. A player names only an app and a stream key, so two workflows
 * serving the same one would leave it to chance which stream it gets; the second definition is refused instead (an
 * HTTP 409 from the API, a start-up error from the config file, an invalid answer from a reactor).
 */
public final class WorkflowConflictException extends RuntimeException {

    public WorkflowConflictException(String message) {
        super(message);
    }

    /**
     * Checks that {@code d}'s {@code rtmp_watch} steps overlap neither each other (a {@link DefinitionException}) nor
     * those of {@code others} (a {@link WorkflowConflictException}); a definition of {@code d}'s own name among
     * {@code others} is the one {@code d} replaces and is skipped.
     */
    public static void checkWatches(WorkflowDefinition d, Collection<WorkflowDefinition> others) {
        List<StepDefinition> steps = d.steps();
        for (int i = 0; i < steps.size(); i++) {
            if (!(steps.get(i) instanceof StepDefinition.RtmpWatch a)) {
                continue;
            }
            for (int j = i + 1; j < steps.size(); j++) {
                if (steps.get(j) instanceof StepDefinition.RtmpWatch b && overlap(a, b)) {
                    throw new DefinitionException("workflow '" + d.name() + "' steps " + (i + 1) + " and " + (j + 1)
                            + " (rtmp_watch) both serve players on app '" + a.app() + "' with stream key '" + b.streamKey()
                            + "': a player could get only one of them; give one of them another app or stream key");
                }
            }
            for (WorkflowDefinition o : others) {
                if (o.name().equals(d.name())) {
                    continue;
                }
                for (StepDefinition s : o.steps()) {
                    if (s instanceof StepDefinition.RtmpWatch b && overlap(a, b)) {
                        throw new WorkflowConflictException("workflow '" + d.name() + "' step " + (i + 1)
                                + " (rtmp_watch) would serve players on app '" + a.app() + "' with stream key '" + a.streamKey()
                                + "', which workflow '" + o.name() + "' already serves (its rtmp_watch on app '" + b.app()
                                + "' with stream key '" + b.streamKey() + "'): one app and stream key are served by one"
                                + " workflow only; give one of them another app or stream key, or remove '" + o.name() + "' first");
                    }
                }
            }
        }
    }

    /** Whether some stream key is served by both: the same app, and the same key or a {@code *}. */
    private static boolean overlap(StepDefinition.RtmpWatch a, StepDefinition.RtmpWatch b) {
        return a.app().equals(b.app())
                && (a.streamKey().equals("*") || b.streamKey().equals("*") || a.streamKey().equals(b.streamKey()));
    }
}
