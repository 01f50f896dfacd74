package io.junction.store.status;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.actor.Actor;
import io.junction.core.actor.Request;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.status.ModuleStatusStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The embedded module status adapter: PlaceOS' Redis layout in memory, written behind to the state port (collection
 * {@value #COLLECTION}, keys {@code status/<module_id>}, {@code system/<system_id>}, {@code interface/<module_id>}) so
 * that a restart shows the last values before the modules report again.
 *
 * <p>Reads and sets never wait for storage: a set changes the map, tells the listeners on the setter's thread and
 * marks the hash dirty; at most every flush interval (and on {@link #flush()} and {@link #close()}) the dirty hashes
 * are written as one atomic batch, so a status variable that changes a thousand times a second costs one write per
 * interval. What changed after the last flush is lost by a crash; a follower that needs more calls {@link #flush()}
 * before it commits its offset.
 */
public final class EmbeddedModuleStatusStore implements ModuleStatusStore {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedModuleStatusStore.class);

    static final String COLLECTION = "module.status";
    public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofMillis(500);

    /** What the flusher does. */
    private sealed interface Command permits Flush, FlushNow {
    }

    /** The flush timer fired: write what is dirty. */
    private record Flush() implements Command {
    }

    /** Write what is dirty and answer once it is durable. */
    private record FlushNow(CompletableFuture<Void> reply) implements Command, Request<Void> {
    }

    private final StateStore state;
    private final Duration interval;
    private final ConcurrentHashMap<ModuleId, ConcurrentHashMap<String, String>> status = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<SystemId, Map<ModuleRef, ModuleId>> systems = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<ModuleId, String> interfaces = new ConcurrentHashMap<>();
    private final Set<ModuleId> dirtyStatus = ConcurrentHashMap.newKeySet();
    private final Set<SystemId> dirtySystems = ConcurrentHashMap.newKeySet();
    private final Set<ModuleId> dirtyInterfaces = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    /** Writes are serialised on this actor, so that an older snapshot of a hash never overwrites a newer one. */
    private final Actor<Command> flusher;

    private EmbeddedModuleStatusStore(StateStore state, Clock clock, Duration interval) {
        this.state = state;
        this.interval = interval;
        this.flusher = Actor.start("module-status-flush", 16, clock, this::handle);
    }

    /** Opens the module status kept in {@code state}, writing changes behind every {@link #DEFAULT_FLUSH_INTERVAL}. */
    public static EmbeddedModuleStatusStore open(StateStore state, Clock clock) {
        return open(state, clock, DEFAULT_FLUSH_INTERVAL);
    }

    /** Opens the module status kept in {@code state}, writing changes behind every {@code flushInterval}. */
    public static EmbeddedModuleStatusStore open(StateStore state, Clock clock, Duration flushInterval) {
        Objects.requireNonNull(state, "state");
        if (flushInterval.isNegative() || flushInterval.isZero()) {
            throw new IllegalArgumentException("the module status flush interval must be positive, got " + flushInterval);
        }
        EmbeddedModuleStatusStore store = new EmbeddedModuleStatusStore(state, clock, flushInterval);
        store.load();
        return store;
    }

    // ---- status/<module_id>

    @Override
    public boolean set(ModuleId module, String name, String json) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(json, "json");
        String old = status.computeIfAbsent(module, k -> new ConcurrentHashMap<>()).put(name, json);
        if (json.equals(old)) {
            return false;
        }
        dirty(dirtyStatus, module);
        tell(module, name, Optional.of(json));
        return true;
    }

    @Override
    public boolean delete(ModuleId module, String name) {
        Map<String, String> vars = status.get(module);
        if (vars == null || vars.remove(name) == null) {
            return false;
        }
        dirty(dirtyStatus, module);
        tell(module, name, Optional.empty());
        return true;
    }

    @Override
    public Optional<String> get(ModuleId module, String name) {
        Map<String, String> vars = status.get(module);
        return vars == null ? Optional.empty() : Optional.ofNullable(vars.get(name));
    }

    @Override
    public SortedMap<String, String> all(ModuleId module) {
        Map<String, String> vars = status.get(module);
        return vars == null ? new TreeMap<>() : new TreeMap<>(vars);
    }

    @Override
    public void clear(ModuleId module) {
        Map<String, String> vars = status.remove(module);
        if (vars == null) {
            return;
        }
        dirty(dirtyStatus, module);
        for (String name : vars.keySet()) {
            tell(module, name, Optional.empty());
        }
    }

    // ---- system/<system_id>

    @Override
    public void replaceSystem(SystemId system, Map<ModuleRef, ModuleId> lookup) {
        if (lookup.isEmpty()) {
            systems.remove(system);
        } else {
            systems.put(system, Map.copyOf(lookup));
        }
        dirty(dirtySystems, system);
        for (Listener l : listeners) {
            try {
                l.lookupChanged(system);
            } catch (RuntimeException e) {
                log.warn("a module status listener failed on lookup-change system={}: {}", system, e.toString(), e);
            }
        }
    }

    @Override
    public Optional<ModuleId> lookup(SystemId system, ModuleRef ref) {
        Map<ModuleRef, ModuleId> lookup = systems.get(system);
        return lookup == null ? Optional.empty() : Optional.ofNullable(lookup.get(ref));
    }

    @Override
    public Map<ModuleRef, ModuleId> system(SystemId system) {
        return systems.getOrDefault(system, Map.of());
    }

    // ---- interface/<module_id>

    @Override
    public void setInterface(ModuleId module, String json) {
        if (!json.equals(interfaces.put(module, json))) {
            dirty(dirtyInterfaces, module);
        }
    }

    @Override
    public Optional<String> getInterface(ModuleId module) {
        return Optional.ofNullable(interfaces.get(module));
    }

    @Override
    public void deleteInterface(ModuleId module) {
        if (interfaces.remove(module) != null) {
            dirty(dirtyInterfaces, module);
        }
    }

    // ---- notifications

    @Override
    public Subscription listen(Listener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    private void tell(ModuleId module, String name, Optional<String> json) {
        for (Listener l : listeners) {
            try {
                l.statusChanged(module, name, json);
            } catch (RuntimeException e) {
                log.warn("a module status listener failed on status/{} {}: {}", module, name, e.toString(), e);
            }
        }
    }

    // ---- writing behind

    private <K> void dirty(Set<K> set, K key) {
        set.add(key);
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            flusher.scheduleAfter(interval, "flush", new Flush());
        }
    }

    @Override
    public void flush() {
        flusher.<Void>ask(FlushNow::new).join();
    }

    private void handle(Command command) {
        switch (command) {
            case Flush f -> {
                try {
                    write();
                } catch (RuntimeException e) {
                    log.warn("module status could not be written to the state store (will retry): {}", e.toString());
                    scheduled.set(true);
                    flusher.scheduleAfter(interval, "flush", new Flush());
                }
            }
            case FlushNow f -> {
                write();
                f.reply().complete(null);
            }
        }
    }

    /** Writes every dirty hash as one batch; on failure they are dirty again. Runs on the flusher only. */
    private void write() {
        scheduled.set(false);
        List<StateWrite> writes = new ArrayList<>();
        List<ModuleId> statusKeys = drain(dirtyStatus);
        List<SystemId> systemKeys = drain(dirtySystems);
        List<ModuleId> interfaceKeys = drain(dirtyInterfaces);
        for (ModuleId m : statusKeys) {
            Map<String, String> vars = status.get(m);
            writes.add(vars == null || vars.isEmpty() ? delete("status/" + m) : put("status/" + m, statusJson(vars)));
        }
        for (SystemId s : systemKeys) {
            Map<ModuleRef, ModuleId> lookup = systems.get(s);
            writes.add(lookup == null ? delete("system/" + s) : put("system/" + s, systemJson(lookup)));
        }
        for (ModuleId m : interfaceKeys) {
            String json = interfaces.get(m);
            writes.add(json == null ? delete("interface/" + m) : put("interface/" + m, json));
        }
        if (writes.isEmpty()) {
            return;
        }
        try {
            state.write(writes);
        } catch (RuntimeException e) {
            dirtyStatus.addAll(statusKeys);
            dirtySystems.addAll(systemKeys);
            dirtyInterfaces.addAll(interfaceKeys);
            throw e;
        }
        log.debug("module status written hashes={}", writes.size());
    }

    private static <K> List<K> drain(Set<K> dirty) {
        List<K> keys = new ArrayList<>(dirty);
        keys.forEach(dirty::remove);
        return keys;
    }

    private static StateWrite put(String key, String json) {
        return new StateWrite.Put(COLLECTION, key, json, StateStore.ANY);
    }

    private static StateWrite delete(String key) {
        return new StateWrite.Delete(COLLECTION, key, StateStore.ANY);
    }

    /** The hash as one JSON object: the values are JSON text already, so they are copied, not re-encoded. */
    private static String statusJson(Map<String, String> vars) {
        StringBuilder b = new StringBuilder("{");
        new TreeMap<>(vars).forEach((name, value) -> {
            if (b.length() > 1) {
                b.append(',');
            }
            b.append(Json.write(name)).append(':').append(value);
        });
        return b.append('}').toString();
    }

    private static String systemJson(Map<ModuleRef, ModuleId> lookup) {
        Map<String, String> fields = new TreeMap<>();
        lookup.forEach((ref, id) -> fields.put(ModuleStatusStore.field(ref), id.value()));
        return Json.write(fields);
    }

    private void load() {
        int hashes = 0;
        for (StateRecord r : state.list(COLLECTION)) {
            try {
                String key = r.key();
                int cut = key.indexOf('/');
                String kind = cut < 0 ? "" : key.substring(0, cut);
                String id = key.substring(cut + 1);
                switch (kind) {
                    case "status" -> {
                        ConcurrentHashMap<String, String> vars = new ConcurrentHashMap<>();
                        Json.parse(r.json()).properties().forEach(e -> vars.put(e.getKey(), e.getValue().toString()));
                        status.put(ModuleId.of(id), vars);
                    }
                    case "system" -> {
                        Map<ModuleRef, ModuleId> lookup = new HashMap<>();
                        for (Map.Entry<String, JsonNode> e : Json.parse(r.json()).properties()) {
                            ModuleStatusStore.parseField(e.getKey()).ifPresent(ref -> lookup.put(ref, ModuleId.of(e.getValue().asText())));
                        }
                        systems.put(SystemId.of(id), Map.copyOf(lookup));
                    }
                    case "interface" -> interfaces.put(ModuleId.of(id), r.json());
                    default -> throw new IllegalArgumentException("unknown kind of key");
                }
                hashes++;
            } catch (IOException | RuntimeException e) {
                log.warn("module status record {} cannot be read ({}); skipping it", r.key(), e.getMessage());
            }
        }
        log.info("module status loaded hashes={}", hashes);
    }

    /** Writes what is dirty and stops the flusher. */
    @Override
    public void close() {
        if (flusher.isClosed()) {
            return;
        }
        try {
            flush();
        } catch (RuntimeException e) {
            log.warn("module status could not be written on close: {}", e.toString());
        }
        flusher.close();
    }
}
