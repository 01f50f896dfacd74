package io.junction.devices.model;

import java.util.Optional;
import java.util.SortedMap;

/**
 * A module as the API shows it: its spec, whether it runs, the source of the code it runs, its last error, the
 * device messages it could not be given (it was stopping), and its status variables (name → JSON text).
 */
public record ModuleView(ModuleSpec spec, boolean running, Optional<String> source, Optional<String> error, long dropped,
                         SortedMap<String, String> status) {

    /** {@code stopped}, {@code running} or {@code error}. */
    public String state() {
        return !running ? "stopped" : error.isPresent() ? "error" : "running";
    }
}
