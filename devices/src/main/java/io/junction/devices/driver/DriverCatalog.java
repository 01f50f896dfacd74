package io.junction.devices.driver;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every driver the server knows, by id: built-in ones, generic MQTT drivers from the config and the API, and those of
 * plugin jars. Putting a driver whose id is known replaces it: listeners (the modules) restart on the new code. A
 * driver that failed to load is kept as a {@link Failure}, shown by the API, while the running version stays.
 */
public final class DriverCatalog {

    private static final Logger log = LoggerFactory.getLogger(DriverCatalog.class);

    /** A driver file or definition that could not be loaded, and why. */
    public record Failure(String source, String error, long at) {
    }

    private final Clock clock;
    private final Map<String, DriverType> drivers = new ConcurrentHashMap<>();
    private final Map<String, Failure> failures = new ConcurrentHashMap<>();
    private final List<Consumer<DriverType>> listeners = new CopyOnWriteArrayList<>();

    public DriverCatalog(Clock clock) {
        this.clock = clock;
    }

    /** Adds a driver or replaces the one with its id; listeners hear of a replacement. Clears a failure of its source. */
    public void put(DriverType type) {
        String id = type.metadata().id();
        DriverType old = drivers.put(id, type);
        failures.remove(type.source());
        if (old != null && old != type) {
            log.info("driver replaced id={} from={} to={}", id, old.source(), type.source());
            for (Consumer<DriverType> l : listeners) {
                l.accept(type);
            }
        } else {
            log.info("driver loaded id={} source={}", id, type.source());
        }
    }

    /** Removes a driver; modules running it keep running the code they have until they are stopped. */
    public Optional<DriverType> remove(String id) {
        return Optional.ofNullable(drivers.remove(id));
    }

    public Optional<DriverType> get(String id) {
        return Optional.ofNullable(drivers.get(id));
    }

    /** Every driver, by id. */
    public List<DriverType> all() {
        List<DriverType> list = new ArrayList<>(drivers.values());
        list.sort(Comparator.comparing(d -> d.metadata().id()));
        return list;
    }

    /** Records that {@code source} (a file, a definition) could not be loaded. */
    public void failed(String source, String error) {
        log.warn("driver not loaded source={} error={}", source, error);
        failures.put(source, new Failure(source, error, clock.millis()));
    }

    /** Forgets the failure of a source that is gone. */
    public void clearFailure(String source) {
        failures.remove(source);
    }

    public List<Failure> failures() {
        List<Failure> list = new ArrayList<>(failures.values());
        list.sort(Comparator.comparing(Failure::source));
        return list;
    }

    /** {@code listener} is called with the new driver whenever one replaces another of the same id. */
    public void onReplaced(Consumer<DriverType> listener) {
        listeners.add(listener);
    }
}
