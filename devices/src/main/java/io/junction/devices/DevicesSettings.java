package io.junction.devices;

import io.junction.core.config.Section;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The live model of devices and rooms: {@code [devices]} (exec timeout, the plugins folder for driver jars),
 * {@code [[drivers]]} (generic MQTT drivers, configured without code) and {@code [[jobs]]} (timed sequences of calls).
 * The devices feature checks the shape of each driver and job and names its {@link Definition#where()} when one is
 * wrong.
 *
 * @param execTimeoutMillis the longest a function call on a module may take before its caller gets an error
 * @param plugins           the folder watched for driver jars; empty means the engine's plugins folder
 */
public record DevicesSettings(long execTimeoutMillis, Optional<Path> plugins, List<Definition> drivers, List<Definition> jobs) {

    public DevicesSettings {
        drivers = List.copyOf(drivers);
        jobs = List.copyOf(jobs);
    }

    /** A driver or job as written in the file, and where ({@code junction.toml:12}). */
    public record Definition(ObjectNode spec, String where) {
    }

    public static DevicesSettings defaults() {
        return new DevicesSettings(5_000, Optional.empty(), List.of(), List.of());
    }

    /** Reads {@code [devices]}, {@code [[drivers]]} and {@code [[jobs]]} from the root table; absent means the defaults. */
    public static DevicesSettings read(Section root) {
        DevicesSettings d = defaults();
        Section devices = root.table("devices");
        long timeout = devices.integer("exec_timeout_ms", d.execTimeoutMillis(), 10, 3_600_000);
        Optional<String> plugins = devices.optionalString("plugins");
        if (plugins.isPresent() && plugins.get().isBlank()) {
            throw devices.error("plugins", "expected the path of a folder for driver jars, got an empty string");
        }
        devices.finish();
        List<Definition> drivers = new ArrayList<>();
        for (Section s : root.tableList("drivers")) {
            drivers.add(new Definition(s.json(), s.where()));
        }
        List<Definition> jobs = new ArrayList<>();
        for (Section s : root.tableList("jobs")) {
            jobs.add(new Definition(s.json(), s.where()));
        }
        return new DevicesSettings(timeout, plugins.map(Path::of), drivers, jobs);
    }
}
