package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Something that happened to a job besides its steps running: a restart, the re-apply of its current step, a neutral
 * call, a shutdown. Part of the job's trace.
 *
 * @param kind {@code restart}, {@code reapply}, {@code reapply-skipped}, {@code neutral} or {@code shutdown}
 */
public record TraceEvent(Instant at, String kind, String detail, OptionalInt step, Optional<String> function,
                         Optional<JsonNode> result, Optional<String> error) {

    public TraceEvent {
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(detail, "detail");
        Objects.requireNonNull(step, "step");
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(result, "result");
        Objects.requireNonNull(error, "error");
    }

    static TraceEvent note(long at, String kind, String detail) {
        return new TraceEvent(Instant.ofEpochMilli(at), kind, detail, OptionalInt.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }

    /** {@code {"at": "2026-...Z", "kind", "detail", "step"?, "function"?, "result"?, "error"?}} */
    public ObjectNode toJson() {
        ObjectNode o = Json.object();
        o.put("at", at.toString());
        o.put("kind", kind);
        o.put("detail", detail);
        step.ifPresent(s -> o.put("step", s));
        function.ifPresent(f -> o.put("function", f));
        result.ifPresent(r -> o.set("result", r));
        error.ifPresent(e -> o.put("error", e));
        return o;
    }

    /** As the journal keeps it: like {@link #toJson()} but with the time in epoch milliseconds. */
    ObjectNode toRecord() {
        ObjectNode o = toJson();
        o.put("at", at.toEpochMilli());
        return o;
    }

    static TraceEvent fromRecord(JsonNode o) {
        return new TraceEvent(Instant.ofEpochMilli(o.path("at").asLong()), o.path("kind").asText(), o.path("detail").asText(),
                o.has("step") ? OptionalInt.of(o.get("step").asInt()) : OptionalInt.empty(),
                o.has("function") ? Optional.of(o.get("function").asText()) : Optional.empty(),
                Optional.ofNullable(o.get("result")),
                o.has("error") ? Optional.of(o.get("error").asText()) : Optional.empty());
    }
}
