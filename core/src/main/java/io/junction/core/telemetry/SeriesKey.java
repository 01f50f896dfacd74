package io.junction.core.telemetry;

import io.junction.core.RoutingKey;

import java.util.Objects;

/**
 * What identifies a series: the routing key the points came under, the tags, and the (flattened) field name, such as
 * {@code bedroom.env} + {@code device=dev1} + {@code env.temp}.
 */
public record SeriesKey(RoutingKey key, Tags tags, String field) {

    public static final int MAX_FIELD_LENGTH = 1024;

    public SeriesKey {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(tags, "tags");
        Objects.requireNonNull(field, "field");
        if (field.isEmpty() || field.length() > MAX_FIELD_LENGTH) {
            throw new IllegalArgumentException("a field name must have 1 to " + MAX_FIELD_LENGTH + " characters, got " + field.length());
        }
    }

    /** The same series with another field name. */
    public SeriesKey withField(String other) {
        return new SeriesKey(key, tags, other);
    }
}
