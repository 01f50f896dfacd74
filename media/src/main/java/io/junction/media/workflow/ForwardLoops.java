package io.junction.media.workflow;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Finds the {@code forward_to_workflow} chains that lead back to where they started (A → B → A, A → B → C → A), which
 * would hand a stream round forever. Every definition is checked against the ones already defined before it runs, so
 * the workflows never hold a loop of forwards; loops that only form at run time (through pushes, pulls and stream
 * names) are {@link LoopGuard}'s.
 */
public final class ForwardLoops {

    private ForwardLoops() {
    }

    /**
     * The loop {@code d} would close among the workflows {@code defined} returns by name ({@code d} standing in for
     * its namesake), as a sentence; empty when there is none.
     */
    static Optional<String> closedBy(WorkflowDefinition d, Function<String, Optional<WorkflowDefinition>> defined) {
        List<String> path = new ArrayList<>();
        path.add(d.name());
        if (reaches(d.name(), d, defined, path, new HashSet<>())) {
            return Optional.of(describe(path));
        }
        return Optional.empty();
    }

    /** Depth first along the forwards of {@code from}; on success {@code path} ends with the start again. */
    private static boolean reaches(String start, WorkflowDefinition from, Function<String, Optional<WorkflowDefinition>> defined,
                                   List<String> path, Set<String> seen) {
        for (String target : targets(from)) {
            path.add(target);
            if (target.equals(start)) {
                return true;
            }
            if (seen.add(target)) {
                Optional<WorkflowDefinition> next = defined.apply(target);
                if (next.isPresent() && reaches(start, next.get(), defined, path, seen)) {
                    return true;
                }
            }
            path.removeLast();
        }
        return false;
    }

    private static List<String> targets(WorkflowDefinition d) {
        List<String> out = new ArrayList<>();
        for (StepDefinition s : d.steps()) {
            if (s instanceof StepDefinition.ForwardToWorkflow f && !out.contains(f.workflow())) {
                out.add(f.workflow());
            }
        }
        return out;
    }

    /** {@code [a, b, c, a]} → "workflow 'a' forwards to 'b', which forwards to 'c', which forwards back to 'a'". */
    static String describe(List<String> path) {
        if (path.size() == 2) {
            return "workflow '" + path.getFirst() + "' forwards to itself";
        }
        StringBuilder b = new StringBuilder("workflow '").append(path.getFirst()).append("' forwards to '").append(path.get(1)).append('\'');
        for (int i = 2; i < path.size(); i++) {
            b.append(i == path.size() - 1 ? ", which forwards back to '" : ", which forwards to '").append(path.get(i)).append('\'');
        }
        return b.append(": a stream would go round forever; remove one of these forward_to_workflow steps").toString();
    }
}
