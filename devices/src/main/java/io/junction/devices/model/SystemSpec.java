package io.junction.devices.model;

import java.util.List;
import java.util.Objects;

/** A system (a room): a named, ordered list of module ids. Modules are found in it by name and 1-based index. */
public record SystemSpec(String id, String name, List<String> modules) {

    public SystemSpec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        modules = List.copyOf(modules);
    }
}
