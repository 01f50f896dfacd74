package io.junction.devices.model;

import io.junction.core.device.ModuleId;
import io.junction.core.device.SystemId;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** A system (a room): a named, ordered list of module ids. Modules are found in it by name and 1-based index. */
public record SystemSpec(SystemId id, String name, List<ModuleId> modules) {

    public SystemSpec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        modules = List.copyOf(modules);
    }

    /** What creating a system asks for: an id (a new one when absent), a name and its modules in order. */
    public record Draft(Optional<SystemId> id, String name, List<ModuleId> modules) {
        public Draft {
            Objects.requireNonNull(name, "name");
            modules = List.copyOf(modules);
        }
    }

    /** What changing a system asks for; an absent part stays as it is. */
    public record Change(Optional<String> name, Optional<List<ModuleId>> modules) {
    }
}
