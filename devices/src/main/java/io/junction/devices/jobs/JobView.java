package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A job as it is at one moment, for the API and for tests: what runs where for whom, its state, when its next step is
 * due, and its trace (every step with when it was due, when it ran and what it answered, plus restarts, re-applies and
 * neutral calls).
 *
 * @param job      the name of its definition ({@code water})
 * @param args     the value of every parameter, defaults filled in
 * @param next     when its next step is due (or when it ends, if only a wait is left); empty once it is stopping
 * @param reason   why it ended, or is stopping; empty while it runs
 * @param where    where its definition came from
 */
public record JobView(String id, String job, String module, String driver, ObjectNode args, Principal caller,
                      JobState state, Instant started, Instant deadline, Optional<Instant> next, Optional<Instant> ended,
                      String reason, String where, List<Step> steps, List<TraceEvent> events) {

    /**
     * One step of the trace.
     *
     * @param function the function a call step calls; empty for a wait
     * @param args     the arguments of a call step, parameters filled in; empty for a wait
     * @param duration how long a wait step waits ({@code 5m}); empty for a call
     * @param until    when a wait step ends; empty for a call
     * @param began    when a call began running; empty when it has not
     * @param ended    when a call answered
     */
    public record Step(int index, Optional<String> function, Optional<JsonNode> args, Optional<String> duration, Instant due,
                       Optional<Instant> until, Optional<Instant> began, Optional<Instant> ended, StepStatus status,
                       Optional<JsonNode> result, Optional<String> error) {

        public Step {
            Objects.requireNonNull(due, "due");
            Objects.requireNonNull(status, "status");
        }

        public ObjectNode toJson() {
            ObjectNode o = Json.object();
            o.put("index", index);
            function.ifPresent(f -> o.put("call", f));
            args.ifPresent(a -> o.set("args", a));
            duration.ifPresent(w -> o.put("wait", w));
            o.put("due", due.toString());
            until.ifPresent(u -> o.put("until", u.toString()));
            if (function.isPresent()) {
                o.put("began", began.map(Instant::toString).orElse(null));
                o.put("ended", ended.map(Instant::toString).orElse(null));
            }
            o.put("status", status.word());
            result.ifPresent(r -> o.set("result", r));
            error.ifPresent(e -> o.put("error", e));
            return o;
        }
    }

    public JobView {
        Objects.requireNonNull(id, "id");
        args = args.deepCopy();
        steps = List.copyOf(steps);
        events = List.copyOf(events);
    }

    /**
     * {@code {"id", "job", "module", "driver", "args", "caller", "state", "started", "deadline", "next", "ended",
     * "reason", "where"}}, and with {@code trace} also {@code "steps"} and {@code "events"}. Times are ISO-8601.
     */
    public ObjectNode toJson(boolean trace) {
        ObjectNode o = Json.object();
        o.put("id", id);
        o.put("job", job);
        o.put("module", module);
        o.put("driver", driver);
        o.set("args", args.deepCopy());
        o.put("caller", caller.user());
        o.put("state", state.word());
        o.put("started", started.toString());
        o.put("deadline", deadline.toString());
        o.put("next", next.map(Instant::toString).orElse(null));
        o.put("ended", ended.map(Instant::toString).orElse(null));
        o.put("reason", reason.isEmpty() ? null : reason);
        o.put("where", where);
        if (trace) {
            ArrayNode s = o.putArray("steps");
            for (Step step : steps) {
                s.add(step.toJson());
            }
            ArrayNode e = o.putArray("events");
            for (TraceEvent ev : events) {
                e.add(ev.toJson());
            }
        }
        return o;
    }
}
