package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One job's state, owned by the {@link Jobs} actor and changed only on its thread: what is durable (the snapshot the
 * journal starts a job with, and the records that follow) and what only this run of the server knows (a call in
 * flight, a neutral call running, who waits for the end).
 */
final class Job {

    final String id;
    final JobDefinition definition;
    final String module;
    final String driver;
    /** The value of every parameter. */
    final ObjectNode values;
    final Principal caller;
    final long started;
    /** When each step is due (epoch ms); {@code due[steps]} is the deadline, when the job ends. */
    final long[] due;

    JobState state = JobState.RUNNING;
    /** The state a stopping job ends in. */
    JobState target = JobState.DONE;
    String reason = "";
    long ended = -1;

    /** Per step: the status of a call step (waits are worked out from the clock), when it began and ended, what it answered. */
    final StepStatus[] status;
    final long[] began;
    final long[] finished;
    final JsonNode[] results;
    final String[] errors;
    final List<TraceEvent> events = new ArrayList<>();

    // what only this run knows
    /** The start record is durable, so steps may run. */
    boolean recorded;
    /** The index of the next step to run. */
    int next;
    /** A step call (or its begun record) is on its way. */
    boolean inFlight;
    /** The current step is being re-applied after a restart. */
    boolean reapplying;
    /** The neutral call running, or -1. */
    int neutralAt = -1;
    /** Its neutral calls run because the server shuts down; it stays running. */
    boolean shutdownNeutral;
    CompletableFuture<JobView> startReply;
    List<CompletableFuture<JobView>> endWaiters = new ArrayList<>();

    Job(String id, JobDefinition definition, String module, String driver, ObjectNode values, Principal caller,
        long started, long[] due) {
        this.id = id;
        this.definition = definition;
        this.module = module;
        this.driver = driver;
        this.values = values;
        this.caller = caller;
        this.started = started;
        this.due = due;
        int n = definition.steps().size();
        this.status = new StepStatus[n];
        java.util.Arrays.fill(status, StepStatus.PENDING);
        this.began = new long[n];
        this.finished = new long[n];
        java.util.Arrays.fill(began, -1);
        java.util.Arrays.fill(finished, -1);
        this.results = new JsonNode[n];
        this.errors = new String[n];
    }

    static Job create(String id, JobDefinition definition, String module, String driver, ObjectNode values,
                      Principal caller, long now) {
        long[] offsets = definition.offsets(values);
        long[] due = new long[offsets.length];
        for (int i = 0; i < offsets.length; i++) {
            due[i] = now + offsets[i];
        }
        return new Job(id, definition, module, driver, values, caller, now, due);
    }

    long deadline() {
        return due[due.length - 1];
    }

    int steps() {
        return status.length;
    }

    JobDefinition.Call call(int step) {
        return (JobDefinition.Call) definition.steps().get(step);
    }

    boolean isCall(int step) {
        return definition.steps().get(step) instanceof JobDefinition.Call;
    }

    /** The index of the last call step that began, or -1. */
    int lastBegun() {
        for (int i = steps() - 1; i >= 0; i--) {
            if (began[i] >= 0) {
                return i;
            }
        }
        return -1;
    }

    /** When the next call step that has not begun is due; the deadline when none is left. */
    long nextCallDue() {
        for (int i = next; i < steps(); i++) {
            if (isCall(i) && began[i] < 0) {
                return due[i];
            }
        }
        return deadline();
    }

    boolean allCallsDone() {
        for (int i = 0; i < steps(); i++) {
            if (isCall(i) && status[i] != StepStatus.DONE) {
                return false;
            }
        }
        return true;
    }

    /** What step {@code i} is, as the trace names it: {@code step 2 (power)}. */
    String name(int i) {
        return "step " + i + (isCall(i) ? " (" + call(i).function() + ")" : " (wait)");
    }

    // --- the journal's records

    /** The whole job as one record: how a job starts in the journal, and how compaction keeps it. */
    ObjectNode snapshot() {
        ObjectNode o = Json.object();
        o.put("t", "job");
        o.put("id", id);
        o.set("definition", definition.toJson());
        o.put("where", definition.where());
        o.put("module", module);
        o.put("driver", driver);
        o.set("values", values);
        o.putObject("caller").put("user", caller.user()).put("role", caller.role().id());
        o.put("started", started);
        ArrayNode d = o.putArray("due");
        for (long t : due) {
            d.add(t);
        }
        o.put("state", state.word());
        o.put("target", target.word());
        o.put("reason", reason);
        o.put("ended", ended);
        ArrayNode s = o.putArray("steps");
        for (int i = 0; i < steps(); i++) {
            ObjectNode st = s.addObject();
            st.put("status", status[i].word());
            st.put("began", began[i]);
            st.put("ended", finished[i]);
            if (results[i] != null) {
                st.set("result", results[i]);
            }
            if (errors[i] != null) {
                st.put("error", errors[i]);
            }
        }
        ArrayNode e = o.putArray("events");
        for (TraceEvent ev : events) {
            e.add(ev.toRecord());
        }
        return o;
    }

    /**
     * A job read back from its snapshot record; throws {@link IllegalArgumentException} when it cannot be.
     * {@code definitions} keeps definitions already read (many jobs share one), by their record.
     */
    static Job fromSnapshot(JsonNode o, java.util.Map<JsonNode, JobDefinition> definitions) {
        String id = o.path("id").asText();
        ObjectNode key = Json.object();
        key.set("definition", o.get("definition"));
        key.set("where", o.get("where"));
        JobDefinition def = definitions.get(key);
        if (def == null) {
            def = JobDefinition.parse(o.get("definition"), o.path("where").asText("journal"));
            definitions.put(key, def);
        }
        Role role = Role.parse(o.path("caller").path("role").asText()).orElse(Role.USER);
        JsonNode dueNode = o.path("due");
        long[] due = new long[dueNode.size()];
        for (int i = 0; i < due.length; i++) {
            due[i] = dueNode.get(i).asLong();
        }
        if (due.length != def.steps().size() + 1 || !o.path("values").isObject()) {
            throw new IllegalArgumentException("job " + id + ": the record does not match its definition");
        }
        Job j = new Job(id, def, o.path("module").asText(), o.path("driver").asText(), (ObjectNode) o.get("values"),
                new Principal(o.path("caller").path("user").asText("junction"), role), o.path("started").asLong(), due);
        j.state = JobState.parse(o.path("state").asText()).orElse(JobState.RUNNING);
        j.target = JobState.parse(o.path("target").asText()).orElse(JobState.DONE);
        j.reason = o.path("reason").asText("");
        j.ended = o.path("ended").asLong(-1);
        JsonNode steps = o.path("steps");
        for (int i = 0; i < Math.min(steps.size(), j.steps()); i++) {
            JsonNode st = steps.get(i);
            j.status[i] = StepStatus.parse(st.path("status").asText()).orElse(StepStatus.PENDING);
            j.began[i] = st.path("began").asLong(-1);
            j.finished[i] = st.path("ended").asLong(-1);
            j.results[i] = st.get("result");
            j.errors[i] = st.has("error") ? st.get("error").asText() : null;
        }
        for (JsonNode ev : o.path("events")) {
            j.events.add(TraceEvent.fromRecord(ev));
        }
        return j;
    }

    static ObjectNode begunRecord(String id, int step, long at) {
        ObjectNode o = Json.object();
        o.put("t", "begun").put("id", id).put("step", step).put("at", at);
        return o;
    }

    ObjectNode doneRecord(int step) {
        ObjectNode o = Json.object();
        o.put("t", "done").put("id", id).put("step", step).put("at", finished[step]).put("status", status[step].word());
        if (results[step] != null) {
            o.set("result", results[step]);
        }
        if (errors[step] != null) {
            o.put("error", errors[step]);
        }
        return o;
    }

    ObjectNode eventRecord(TraceEvent e) {
        ObjectNode o = Json.object();
        o.put("t", "event").put("id", id);
        o.set("event", e.toRecord());
        return o;
    }

    ObjectNode stoppingRecord(long at) {
        ObjectNode o = Json.object();
        o.put("t", "stopping").put("id", id).put("target", target.word()).put("reason", reason).put("at", at);
        return o;
    }

    ObjectNode endRecord() {
        ObjectNode o = Json.object();
        o.put("t", "end").put("id", id).put("state", state.word()).put("reason", reason).put("at", ended);
        return o;
    }

    /** Applies a record that follows the job's snapshot in the journal. */
    void apply(JsonNode r) {
        switch (r.path("t").asText()) {
            case "begun" -> {
                int i = r.path("step").asInt(-1);
                if (i >= 0 && i < steps()) {
                    began[i] = r.path("at").asLong();
                    status[i] = StepStatus.RUNNING;
                }
            }
            case "done" -> {
                int i = r.path("step").asInt(-1);
                if (i >= 0 && i < steps()) {
                    finished[i] = r.path("at").asLong();
                    status[i] = StepStatus.parse(r.path("status").asText()).orElse(r.has("error") ? StepStatus.FAILED : StepStatus.DONE);
                    results[i] = r.get("result");
                    errors[i] = r.has("error") ? r.get("error").asText() : null;
                }
            }
            case "event" -> events.add(TraceEvent.fromRecord(r.path("event")));
            case "stopping" -> {
                state = JobState.STOPPING;
                target = JobState.parse(r.path("target").asText()).orElse(JobState.CANCELLED);
                reason = r.path("reason").asText("");
            }
            case "end" -> {
                state = JobState.parse(r.path("state").asText()).orElse(target);
                reason = r.path("reason").asText(reason);
                ended = r.path("at").asLong();
            }
            default -> {
                // a record kind this version does not know: nothing to apply
            }
        }
    }

    // --- what the API sees

    JobView view(long now) {
        List<JobView.Step> list = new ArrayList<>(steps());
        for (int i = 0; i < steps(); i++) {
            Instant dueAt = Instant.ofEpochMilli(due[i]);
            switch (definition.steps().get(i)) {
                case JobDefinition.Call c -> {
                    StepStatus s = status[i];
                    if (s == StepStatus.PENDING && state.ended()) {
                        s = StepStatus.SKIPPED;
                    } else if (s == StepStatus.RUNNING && !inFlight) {
                        s = StepStatus.INTERRUPTED;
                    }
                    list.add(new JobView.Step(i, Optional.of(c.function()),
                            Optional.of(JobDefinition.resolve(c.template(), values)), Optional.empty(), dueAt,
                            Optional.empty(), time(began[i]), time(finished[i]), s, Optional.ofNullable(results[i]),
                            Optional.ofNullable(errors[i])));
                }
                case JobDefinition.Wait w -> {
                    long until = due[i + 1];
                    long end = state.ended() ? ended : state == JobState.STOPPING ? Math.min(now, until) : now;
                    StepStatus s;
                    if (end >= until) {
                        s = StepStatus.DONE;
                    } else if (state == JobState.RUNNING) {
                        s = end >= due[i] && next >= i ? StepStatus.WAITING : StepStatus.PENDING;
                    } else {
                        s = end > due[i] ? StepStatus.CUT_SHORT : StepStatus.SKIPPED;
                    }
                    String text = JobDefinition.resolve(Json.MAPPER.getNodeFactory().textNode(w.duration()), values).asText();
                    list.add(new JobView.Step(i, Optional.empty(), Optional.empty(), Optional.of(text), dueAt,
                            Optional.of(Instant.ofEpochMilli(until)), Optional.empty(), Optional.empty(), s,
                            Optional.empty(), Optional.empty()));
                }
            }
        }
        Optional<Instant> nextAt = state == JobState.RUNNING ? Optional.of(Instant.ofEpochMilli(nextCallDue())) : Optional.empty();
        return new JobView(id, definition.name(), module, driver, values, caller, state, Instant.ofEpochMilli(started),
                Instant.ofEpochMilli(deadline()), nextAt, time(ended), reason, definition.where(), list, events);
    }

    private static Optional<Instant> time(long ms) {
        return ms < 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(ms));
    }
}
