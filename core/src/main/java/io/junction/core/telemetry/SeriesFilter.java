package io.junction.core.telemetry;

import io.junction.core.RoutingPattern;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Which series a query is about: a routing-key pattern, optionally one field name, and tags that must all match.
 */
public record SeriesFilter(RoutingPattern key, Optional<String> field, Map<String, String> tags) {

    public static final SeriesFilter ALL = new SeriesFilter(RoutingPattern.ALL, Optional.empty(), Map.of());

    public SeriesFilter {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(field, "field");
        tags = Map.copyOf(tags);
    }

    public static SeriesFilter of(RoutingPattern key) {
        return new SeriesFilter(key, Optional.empty(), Map.of());
    }

    public static SeriesFilter of(RoutingPattern key, String field) {
        return new SeriesFilter(key, Optional.of(field), Map.of());
    }

    public boolean matches(SeriesKey s) {
        if (field.isPresent() && !field.get().equals(s.field())) {
            return false;
        }
        for (Map.Entry<String, String> t : tags.entrySet()) {
            if (!t.getValue().equals(s.tags().asMap().get(t.getKey()))) {
                return false;
            }
        }
        return key.matches(s.key());
    }
}
