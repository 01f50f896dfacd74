package io.junction.core.config;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The live model of devices and rooms: {@code [auth]} (the first administrator's password, how long a login lasts),
 * {@code [devices]} (exec timeout, the plugins folder for driver jars), {@code [[drivers]]} (generic MQTT drivers,
 * configured without code) and {@code [[jobs]]} (timed sequences of calls). The devices feature checks the shape of
 * each driver and job and names its {@link Definition#where()} when one is wrong.
 *
 * @param adminPassword     the password of the {@code admin} user created on first start: {@code JUNCTION_ADMIN_PASSWORD}
 *                          from the environment, else {@code [auth] admin_password} (or {@code admin_password_env});
 *                          empty means a generated one is printed once
 * @param tokenTtlHours     how long a token from {@code POST /api/auth/login} is valid
 * @param execTimeoutMillis the longest a function call on a module may take before its caller gets an error
 * @param plugins           the folder watched for driver jars; empty means the engine's plugins folder
 */
public record DevicesSettings(Optional<String> adminPassword, long tokenTtlHours, long execTimeoutMillis,
                              Optional<Path> plugins, List<Definition> drivers, List<Definition> jobs) {

    public DevicesSettings {
        drivers = List.copyOf(drivers);
        jobs = List.copyOf(jobs);
    }

    /** A driver or job as written in the file, and where ({@code junction.toml:12}). */
    public record Definition(ObjectNode spec, String where) {
    }

    public static DevicesSettings defaults() {
        return new DevicesSettings(Optional.empty(), 24 * 30, 5_000, Optional.empty(), List.of(), List.of());
    }

    static DevicesSettings read(Section root) {
        DevicesSettings d = defaults();
        Section auth = root.table("auth");
        Optional<String> fromFile = auth.secret("admin_password");
        Optional<String> password = root.env("JUNCTION_ADMIN_PASSWORD").or(() -> fromFile);
        if (password.isPresent() && password.get().length() < 8) {
            throw auth.error("admin_password", "the administrator's password needs at least 8 characters");
        }
        long ttl = auth.integer("token_ttl_hours", d.tokenTtlHours(), 1, 24L * 365 * 10);
        auth.finish();
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
        return new DevicesSettings(password, ttl, timeout, plugins.map(Path::of), drivers, jobs);
    }
}
