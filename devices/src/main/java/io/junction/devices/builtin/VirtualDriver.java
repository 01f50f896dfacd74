package io.junction.devices.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.auth.Role;
import io.junction.devices.driver.Arg;
import io.junction.devices.driver.Callable;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverContext;
import io.junction.devices.driver.DriverInfo;
import io.junction.devices.driver.Implements;

/**
 * A module without a device, built in: its status is what calls set. For rooms being designed before the hardware
 * is there, for demos, and for measuring the cost of exec itself.
 */
@DriverInfo(id = "virtual", name = "Virtual", description = "A module without a device; calls set its status")
@Implements("Powerable")
public final class VirtualDriver implements Driver {

    private DriverContext context;

    @Override
    public void start(DriverContext context) {
        this.context = context;
    }

    /** Answers its argument: the cheapest round trip. */
    @Callable
    public JsonNode echo(@Arg("value") JsonNode value) {
        return value;
    }

    @Callable
    public int add(@Arg("a") int a, @Arg(value = "b", fallback = "200") int b) {
        return a + b;
    }

    @Callable
    public boolean power(@Arg("state") boolean state) {
        context.status("power", state);
        context.log("power " + (state ? "on" : "off"));
        return state;
    }

    /** Sets any status variable. */
    @Callable
    public JsonNode set(@Arg("name") String name, @Arg("value") JsonNode value) {
        context.status(name, value);
        context.log("set " + name + " = " + value);
        return value;
    }

    /** Clears the error a support engineer was called for. */
    @Callable(role = Role.SUPPORT)
    public String error_task() {
        context.status("error", false);
        return "cleared";
    }

    @Callable(role = Role.ADMINISTRATOR)
    public String perform_task(@Arg(value = "name", fallback = "\"maintenance\"") String name) {
        context.status("task", name);
        return name;
    }
}
