package io.junction.core.testing;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.status.ModuleStatusStore;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The module status port in memory, for unit tests of features that keep module status: it passes the same contract
 * as the real adapters ({@code MemoryModuleStatusStoreTest}), without their durability. {@link #reopened()} stands in
 * for closing and opening again; listeners are called on the thread that made the change, as the embedded adapter does.
 */
public final class MemoryModuleStatusStore implements ModuleStatusStore {

    private final ConcurrentHashMap<ModuleId, ConcurrentHashMap<String, String>> status = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<SystemId, Map<ModuleRef, ModuleId>> systems = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<ModuleId, String> interfaces = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();

    /** A new store holding a copy of what this one holds, without its listeners. */
    public MemoryModuleStatusStore reopened() {
        MemoryModuleStatusStore copy = new MemoryModuleStatusStore();
        status.forEach((m, vars) -> copy.status.put(m, new ConcurrentHashMap<>(vars)));
        copy.systems.putAll(systems);
        copy.interfaces.putAll(interfaces);
        return copy;
    }

    @Override
    public boolean set(ModuleId module, String name, String json) {
        String old = status.computeIfAbsent(module, k -> new ConcurrentHashMap<>()).put(name, json);
        if (json.equals(old)) {
            return false;
        }
        listeners.forEach(l -> l.statusChanged(module, name, Optional.of(json)));
        return true;
    }

    @Override
    public boolean delete(ModuleId module, String name) {
        Map<String, String> vars = status.get(module);
        if (vars == null || vars.remove(name) == null) {
            return false;
        }
        listeners.forEach(l -> l.statusChanged(module, name, Optional.empty()));
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
        if (vars != null) {
            vars.keySet().forEach(name -> listeners.forEach(l -> l.statusChanged(module, name, Optional.empty())));
        }
    }

    @Override
    public void replaceSystem(SystemId system, Map<ModuleRef, ModuleId> lookup) {
        if (lookup.isEmpty()) {
            systems.remove(system);
        } else {
            systems.put(system, Map.copyOf(lookup));
        }
        listeners.forEach(l -> l.lookupChanged(system));
    }

    @Override
    public Optional<ModuleId> lookup(SystemId system, ModuleRef ref) {
        return Optional.ofNullable(systems.getOrDefault(system, Map.of()).get(ref));
    }

    @Override
    public Map<ModuleRef, ModuleId> system(SystemId system) {
        return systems.getOrDefault(system, Map.of());
    }

    @Override
    public void setInterface(ModuleId module, String json) {
        interfaces.put(module, json);
    }

    @Override
    public Optional<String> getInterface(ModuleId module) {
        return Optional.ofNullable(interfaces.get(module));
    }

    @Override
    public void deleteInterface(ModuleId module) {
        interfaces.remove(module);
    }

    @Override
    public Subscription listen(Listener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
