package io.junction.core.telemetry;

/**
 * A stored series: its adapter-given id, what identifies it, and the type of its values.
 *
 * @param id an id unique within the store; stable for the life of the store
 */
public record Series(long id, SeriesKey key, FieldType type) {
}
