package io.junction.devices.model;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.testing.MemoryModuleStatusStore;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The in-memory module status port with the failures a scale-out adapter has when its engine goes away: status writes
 * that throw {@link IllegalStateException} (as the Redis adapter's do), listeners that hear nothing for a while (a lost
 * subscription), and the {@link Listener#resynced()} call that follows. Everything else is the memory store's.
 */
final class UnreliableModuleStatusStore implements ModuleStatusStore {

    private final MemoryModuleStatusStore store = new MemoryModuleStatusStore();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    private final AtomicInteger setsToFail = new AtomicInteger();
    private final AtomicInteger failedSets = new AtomicInteger();
    private volatile boolean deaf;

    /** The next {@code n} status writes throw. */
    void failNextSets(int n) {
        setsToFail.set(n);
    }

    /** Status writes that threw so far. */
    int failedSets() {
        return failedSets.get();
    }

    /** While deaf, changes are made but no listener hears them (the subscription is lost). */
    void deaf(boolean deaf) {
        this.deaf = deaf;
    }

    /** Tells every listener it may have missed changes, on the calling thread (the adapter's subscriber thread). */
    void resync() {
        listeners.forEach(Listener::resynced);
    }

    @Override
    public boolean set(ModuleId module, String name, String json) {
        if (setsToFail.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            failedSets.incrementAndGet();
            throw new IllegalStateException("redis at test:6379: set of status/" + module + " " + name + " failed: connection refused");
        }
        return store.set(module, name, json);
    }

    @Override
    public boolean delete(ModuleId module, String name) {
        return store.delete(module, name);
    }

    @Override
    public Optional<String> get(ModuleId module, String name) {
        return store.get(module, name);
    }

    @Override
    public SortedMap<String, String> all(ModuleId module) {
        return store.all(module);
    }

    @Override
    public void clear(ModuleId module) {
        store.clear(module);
    }

    @Override
    public void replaceSystem(SystemId system, Map<ModuleRef, ModuleId> lookup) {
        store.replaceSystem(system, lookup);
    }

    @Override
    public Optional<ModuleId> lookup(SystemId system, ModuleRef ref) {
        return store.lookup(system, ref);
    }

    @Override
    public Map<ModuleRef, ModuleId> system(SystemId system) {
        return store.system(system);
    }

    @Override
    public void setInterface(ModuleId module, String json) {
        store.setInterface(module, json);
    }

    @Override
    public Optional<String> getInterface(ModuleId module) {
        return store.getInterface(module);
    }

    @Override
    public void deleteInterface(ModuleId module) {
        store.deleteInterface(module);
    }

    @Override
    public Subscription listen(Listener listener) {
        listeners.add(listener);
        Subscription inner = store.listen(new Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                if (!deaf) {
                    listener.statusChanged(module, name, json);
                }
            }

            @Override
            public void lookupChanged(SystemId system) {
                if (!deaf) {
                    listener.lookupChanged(system);
                }
            }
        });
        return () -> {
            listeners.remove(listener);
            inner.close();
        };
    }

    @Override
    public void flush() {
        store.flush();
    }

    @Override
    public void close() {
        store.close();
    }
}
