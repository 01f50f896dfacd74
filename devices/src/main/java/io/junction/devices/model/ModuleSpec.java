package io.junction.devices.model;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Objects;
import java.util.Optional;

/**
 * A module as stored: a driver instance with an id, a name in systems ({@code Display}), its settings, the device it
 * is bound to (none for a virtual module), and whether it should be running (so a restart starts it again).
 */
public record ModuleSpec(String id, String name, String driver, Optional<String> device, ObjectNode settings, boolean running) {

    public ModuleSpec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(device, "device");
        settings = settings.deepCopy();
    }

    ModuleSpec withRunning(boolean running) {
        return new ModuleSpec(id, name, driver, device, settings, running);
    }
}
