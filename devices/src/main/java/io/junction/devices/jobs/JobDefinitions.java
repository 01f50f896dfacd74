package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.config.ConfigException;
import io.junction.devices.DevicesSettings.Definition;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jobs each driver's modules offer: those of {@code [[jobs]]} sections (checked when the server starts; a wrong
 * one stops it with a {@link ConfigException} naming where it is) and those a driver declares itself (checked when
 * the driver is loaded; a wrong one is left out, logged and listed). A config job replaces a driver's job of the same
 * name. Safe to read from any thread.
 */
final class JobDefinitions {

    private static final Logger log = LoggerFactory.getLogger(JobDefinitions.class);

    /** A driver's own jobs: the usable ones, and what is wrong with the others. */
    private record Offer(Map<String, JobDefinition> jobs, List<String> problems) {
    }

    private final DriverCatalog drivers;
    /** driver id → job name → definition */
    private final Map<String, Map<String, JobDefinition>> config;
    private final Map<DriverType, Offer> ofDrivers = new ConcurrentHashMap<>();

    /** Reads and checks the {@code [[jobs]]} sections; throws {@link ConfigException} at the first wrong one. */
    JobDefinitions(List<Definition> configJobs, DriverCatalog drivers) {
        this.drivers = drivers;
        Map<String, Map<String, JobDefinition>> byDriver = new HashMap<>();
        for (Definition d : configJobs) {
            JobDefinition def;
            try {
                def = JobDefinition.parse(d.spec(), d.where());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(e.getMessage());
            }
            String at = d.where() + ": job '" + def.name() + "'";
            String driver = def.driver().orElseThrow(() -> new ConfigException(at
                    + ": needs driver = \"<driver id>\": the driver whose modules offer the job"));
            JobDefinition before = byDriver.computeIfAbsent(driver, k -> new LinkedHashMap<>()).put(def.name(), def);
            if (before != null) {
                throw new ConfigException(at + ": driver " + driver + " already has a job named '" + def.name()
                        + "' (at " + before.where() + "); job names must differ per driver");
            }
            Optional<DriverType> type = drivers.get(driver);
            if (type.isPresent()) {
                List<String> problems = def.problems(type.get().metadata());
                if (!problems.isEmpty()) {
                    throw new ConfigException(at + ": " + String.join("; ", problems));
                }
            } else {
                log.info("job {} at {} is for driver {}, which is not loaded yet; it is checked against the driver when it is started",
                        def.name(), d.where(), driver);
            }
        }
        this.config = byDriver;
    }

    /** The jobs modules of driver {@code driverId} offer, by name. */
    List<JobDefinition> offeredBy(String driverId) {
        Map<String, JobDefinition> all = new LinkedHashMap<>();
        drivers.get(driverId).ifPresent(t -> all.putAll(offer(t).jobs()));
        all.putAll(config.getOrDefault(driverId, Map.of()));
        List<JobDefinition> list = new ArrayList<>(all.values());
        list.sort(Comparator.comparing(JobDefinition::name));
        return list;
    }

    Optional<JobDefinition> find(String driverId, String name) {
        JobDefinition c = config.getOrDefault(driverId, Map.of()).get(name);
        if (c != null) {
            return Optional.of(c);
        }
        return drivers.get(driverId).map(t -> offer(t).jobs().get(name));
    }

    /** What is wrong with the jobs driver {@code driverId} declares; empty when nothing is. */
    List<String> problems(String driverId) {
        return drivers.get(driverId).map(t -> offer(t).problems()).orElse(List.of());
    }

    /** The ids of every driver that offers a job, from the config or itself. */
    List<String> driverIds() {
        List<String> ids = new ArrayList<>(config.keySet());
        for (DriverType t : drivers.all()) {
            if (!ids.contains(t.metadata().id()) && !t.jobs().isEmpty()) {
                ids.add(t.metadata().id());
            }
        }
        ids.sort(Comparator.naturalOrder());
        return ids;
    }

    /** Checks the jobs of every loaded driver now, so what is wrong is logged at start-up. */
    void checkLoaded() {
        for (DriverType t : drivers.all()) {
            offer(t);
        }
    }

    private Offer offer(DriverType type) {
        Offer o = ofDrivers.get(type);
        if (o == null) {
            o = read(type);
            if (ofDrivers.size() > 10_000) {
                ofDrivers.clear(); // replaced drivers' entries; they are read again when asked for
            }
            ofDrivers.put(type, o);
        }
        return o;
    }

    private static Offer read(DriverType type) {
        String id = type.metadata().id();
        Map<String, JobDefinition> jobs = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        List<ObjectNode> specs = type.jobs();
        for (int i = 0; i < specs.size(); i++) {
            String where = "driver " + id + " (" + type.source() + "), job " + (i + 1);
            try {
                ObjectNode spec = specs.get(i);
                if (spec.has("driver")) {
                    throw new IllegalArgumentException(where + ": a driver's own job has no driver key; it is offered by modules of " + id);
                }
                JobDefinition def = JobDefinition.parse(spec, where);
                List<String> p = def.problems(type.metadata());
                if (!p.isEmpty()) {
                    throw new IllegalArgumentException(where + ": job '" + def.name() + "': " + String.join("; ", p));
                }
                if (jobs.putIfAbsent(def.name(), def) != null) {
                    throw new IllegalArgumentException(where + ": a second job named '" + def.name() + "'");
                }
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
                log.warn("job left out: {}", e.getMessage());
            }
        }
        return new Offer(Map.copyOf(jobs), List.copyOf(problems));
    }
}
