package io.junction.devices.model;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.status.ModuleStatusStore;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Indirect subscriptions: a binding names (system, module name, index, status variable) and is resolved through the
 * system's lookup in the status port ({@code system/<system_id>}), never kept as a module id, so after the system is
 * re-ordered or a module replaced it follows whatever module now sits there. The listener hears the current value at
 * once and every change after, as JSON text ({@code null} when there is none).
 *
 * <p>Bindings are added, removed and re-resolved only on the model's actor; status changes reach them from any thread
 * through an index that the actor replaces, never changes in place, so delivering a change takes no lock.
 */
final class Bindings implements ModuleStatusStore.Listener {

    static final String NONE = "null";

    /** One client's standing request. */
    final class Binding implements AutoCloseable {
        final SystemId system;
        final ModuleRef ref;
        final String status;
        final Consumer<String> listener;
        /** The module it resolves to now; empty when the system has no such module. Only on the model's actor. */
        Optional<ModuleId> target = Optional.empty();
        volatile boolean closed;

        Binding(SystemId system, ModuleRef ref, String status, Consumer<String> listener) {
            this.system = system;
            this.ref = ref;
            this.status = status;
            this.listener = listener;
        }

        void hear(String json) {
            if (!closed) {
                listener.accept(json);
            }
        }

        /** Stops notifications at once; the model forgets the binding in turn. */
        @Override
        public void close() {
            if (!closed) {
                closed = true;
                unbind.accept(this);
            }
        }
    }

    private final ModuleStatusStore store;
    private final Consumer<Binding> unbind;
    /** module id → status name → bindings resolved to it: replaced (copy on write) by the model's actor only. */
    private final ConcurrentHashMap<ModuleId, Map<String, List<Binding>>> byModule = new ConcurrentHashMap<>();
    /** system id → its bindings; the model's actor only. */
    private final Map<SystemId, Set<Binding>> bySystem = new HashMap<>();
    private volatile int size;

    /** {@code unbind} hands a closed binding to the model's actor, which calls {@link #remove}. */
    Bindings(ModuleStatusStore store, Consumer<Binding> unbind) {
        this.store = store;
        this.unbind = unbind;
    }

    /** Adds a binding and tells the listener the current value. On the model's actor. */
    Binding bind(SystemId system, ModuleRef ref, String status, Consumer<String> listener) {
        Binding b = new Binding(system, ref, status, listener);
        bySystem.computeIfAbsent(system, k -> new LinkedHashSet<>()).add(b);
        size++;
        attach(b, store.lookup(system, ref));
        b.hear(current(b));
        return b;
    }

    /** Forgets a closed binding. On the model's actor. */
    void remove(Binding b) {
        Set<Binding> s = bySystem.get(b.system);
        if (s == null || !s.remove(b)) {
            return;
        }
        if (s.isEmpty()) {
            bySystem.remove(b.system);
        }
        size--;
        detach(b);
    }

    /**
     * A system's lookup changed: re-resolve its bindings; one whose module changed hears the new module's value. On
     * the model's actor.
     */
    void reindex(SystemId system) {
        Set<Binding> s = bySystem.get(system);
        if (s == null) {
            return;
        }
        List<Binding> moved = new ArrayList<>();
        for (Binding b : s) {
            Optional<ModuleId> now = store.lookup(system, b.ref);
            if (!now.equals(b.target)) {
                detach(b);
                attach(b, now);
                moved.add(b);
            }
        }
        for (Binding b : moved) {
            b.hear(current(b));
        }
    }

    /** A module's status changed (from any thread): every binding resolved to it hears the value. */
    @Override
    public void statusChanged(ModuleId module, String name, Optional<String> json) {
        Map<String, List<Binding>> names = byModule.get(module);
        if (names == null) {
            return;
        }
        List<Binding> hit = names.get(name);
        if (hit == null) {
            return;
        }
        String value = json.orElse(NONE);
        for (Binding b : hit) {
            b.hear(value);
        }
    }

    int size() {
        return size;
    }

    private String current(Binding b) {
        return b.target.flatMap(id -> store.get(id, b.status)).orElse(NONE);
    }

    private void attach(Binding b, Optional<ModuleId> target) {
        b.target = target;
        target.ifPresent(id -> {
            Map<String, List<Binding>> names = new HashMap<>(byModule.getOrDefault(id, Map.of()));
            List<Binding> list = new ArrayList<>(names.getOrDefault(b.status, List.of()));
            list.add(b);
            names.put(b.status, List.copyOf(list));
            byModule.put(id, Map.copyOf(names));
        });
    }

    private void detach(Binding b) {
        b.target.ifPresent(id -> {
            Map<String, List<Binding>> names = new HashMap<>(byModule.getOrDefault(id, Map.of()));
            List<Binding> list = new ArrayList<>(names.getOrDefault(b.status, List.of()));
            list.remove(b);
            if (list.isEmpty()) {
                names.remove(b.status);
            } else {
                names.put(b.status, List.copyOf(list));
            }
            if (names.isEmpty()) {
                byModule.remove(id);
            } else {
                byModule.put(id, Map.copyOf(names));
            }
        });
        b.target = Optional.empty();
    }
}
