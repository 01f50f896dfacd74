package io.junction.core.telemetry;

/** A stored value read back: the series' id, the time in nanoseconds and the value. */
public record Sample(long seriesId, long ts, FieldValue value) {
}
