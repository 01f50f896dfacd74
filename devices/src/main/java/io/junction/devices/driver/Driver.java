package io.junction.devices.driver;

import io.junction.core.Message;

/**
 * Code that knows a kind of device. A module holds one instance and calls it one call at a time, each call seeing
 * what the one before did, so a driver keeps plain fields (calls may come on different threads: no thread-locals). Its callable functions are its public methods marked {@link Callable};
 * their parameters (named by {@link Arg}), the interfaces it {@link Implements} and the modules it {@link Requires}
 * are read from the class and served as its metadata.
 *
 * <pre>{@code
 * @DriverInfo(id = "acme-pump", name = "Pump")
 * @Implements("Powerable")
 * public final class Pump implements Driver {
 *     private DriverContext context;
 *     public void start(DriverContext context) { this.context = context; }
 *     @Callable public boolean power(@Arg("state") boolean state) { context.status("power", state); return state; }
 * }
 * }</pre>
 */
public interface Driver {

    /** The module starts (or restarts on new code); keep the context for later calls. */
    default void start(DriverContext context) throws Exception {
    }

    /** The module stops, or its code is about to be swapped; put the device in a safe state. */
    default void stop() throws Exception {
    }

    /** A message from the module's device, or one whose key matches a pattern the driver {@link DriverContext#follow follows}. */
    default void received(Message message) throws Exception {
    }
}
