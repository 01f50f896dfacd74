package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/** One parameter of a function: its name, the types it accepts, and its default when it may be left out. */
public record Param(String name, List<ParamType> types, Optional<JsonNode> fallback) {

    public Param {
        Objects.requireNonNull(name, "name");
        types = List.copyOf(types);
        if (types.isEmpty()) {
            throw new IllegalArgumentException("parameter '" + name + "' needs at least one type");
        }
        Objects.requireNonNull(fallback, "fallback");
    }

    /** The type as the metadata writes it: {@code Int32}, or a union {@code String | Int32}. */
    public String typeText() {
        return types.stream().map(ParamType::id).collect(Collectors.joining(" | "));
    }

    public boolean accepts(JsonNode value) {
        for (ParamType t : types) {
            if (t.accepts(value)) {
                return true;
            }
        }
        return false;
    }
}
