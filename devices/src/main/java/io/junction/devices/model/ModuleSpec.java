package io.junction.devices.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.device.DeviceUid;
import io.junction.core.device.ModuleId;

import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A module as stored: a driver instance with an id, a name in systems ({@code Display}), its settings, the device it
 * is bound to (none for a virtual module), and whether it should be running (so a restart starts it again).
 */
public record ModuleSpec(ModuleId id, String name, String driver, Optional<DeviceUid> device, ObjectNode settings, boolean running) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,63}");
    /** What a valid name looks like, for error messages. */
    public static final String NAME_RULE = "a letter, then at most 63 letters, digits, '_' or '-' (e.g. Display)";

    public ModuleSpec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(device, "device");
        settings = settings.deepCopy();
    }

    /** Whether {@code name} may name a module in systems. */
    public static boolean isValidName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    ModuleSpec withRunning(boolean running) {
        return new ModuleSpec(id, name, driver, device, settings, running);
    }

    /**
     * What creating a module asks for, checked at the edge: an id (a new one when absent), the driver's id, a name
     * (the driver's name when absent), the device, the settings and whether it starts.
     */
    public record Draft(Optional<ModuleId> id, String driver, Optional<String> name, Optional<DeviceUid> device,
                        ObjectNode settings, boolean running) {
        public Draft {
            Objects.requireNonNull(driver, "driver");
            settings = settings == null ? Json.object() : settings.deepCopy();
        }
    }

    /**
     * What changing a module asks for; an absent part stays as it is. {@code setsDevice} with an empty {@code device}
     * unbinds the module from its device. A {@code driver} other than the module's own is refused.
     */
    public record Change(Optional<String> name, Optional<String> driver, boolean setsDevice, Optional<DeviceUid> device,
                         Optional<ObjectNode> settings) {
    }
}
