package io.junction.devices.driver;

import io.junction.core.auth.Role;

import java.util.List;
import java.util.Objects;

/** A callable function of a driver: its name, its parameters in order, and the least role that may call it. */
public record FunctionSpec(String name, List<Param> params, Role role) {

    public FunctionSpec {
        Objects.requireNonNull(name, "name");
        params = List.copyOf(params);
        Objects.requireNonNull(role, "role");
    }
}
