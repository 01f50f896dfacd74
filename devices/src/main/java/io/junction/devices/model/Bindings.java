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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Indirect subscriptions: a binding names (system, module name, index, status variable) and is resolved through the
 * system's lookup in the status port ({@code system/<system_id>}), never kept as a module id, so after the system is
 * re-ordered or a module replaced it follows whatever module now sits there. The listener hears the current value at
 * once and every change after, as JSON text ({@code null} when there is none).
 *
 * <p>Bindings are added, removed and re-resolved only on the model's actor; status changes reach them from any thread
 * through an index that the actor replaces, never changes in place, so delivering a change takes no lock. A lookup
 * changed elsewhere, or a status port that may have missed changes ({@link #resynced}), only marks bindings stale from
 * the listener's thread: the actor catches up in its next turn ({@link #catchUp}), so a burst of changes costs one
 * re-resolve and the listener never waits. A listener is told a value only when it differs from the one it was last
 * told, so catching up after missed changes tells each client just what it missed.
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
        /** What the listener was last told; null before the first value. A new object each time (see {@link #read}). */
        private final AtomicReference<Told> told = new AtomicReference<>();
        volatile boolean closed;

        Binding(SystemId system, ModuleRef ref, String status, Consumer<String> listener) {
            this.system = system;
            this.ref = ref;
            this.status = status;
            this.listener = listener;
        }

        /** A change heard from the status port (any thread): told unless the listener has that value already. */
        void changed(String json) {
            Told last = told.get();
            if (closed || (last != null && last.value().equals(json))) {
                return;
            }
            told.set(new Told(json));
            listener.accept(json);
        }

        /**
         * A value read from the store (the model's actor), where {@code seen} is what {@link #told} was before the read
         * began: told only when it differs from that and no change was told since, which would be as new or newer.
         */
        void read(Told seen, String json) {
            if (closed || (seen != null && seen.value().equals(json))) {
                return;
            }
            if (told.compareAndSet(seen, new Told(json))) {
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

    /** What a listener was told. */
    private record Told(String value) {
    }

    /** The status variable a binding reads, to read each one once when many clients bind to it. */
    private record Variable(ModuleId module, String name) {
    }

    private final ModuleStatusStore store;
    private final Consumer<Binding> unbind;
    /** module id → status name → bindings resolved to it: replaced (copy on write) by the model's actor only. */
    private final ConcurrentHashMap<ModuleId, Map<String, List<Binding>>> byModule = new ConcurrentHashMap<>();
    /** system id → its bindings: changed by the model's actor only; other threads only ask whether a system has any. */
    private final ConcurrentHashMap<SystemId, Set<Binding>> bySystem = new ConcurrentHashMap<>();
    /** Systems whose lookup changed elsewhere, not re-resolved yet; only systems with bindings, so it is bounded. */
    private final Set<SystemId> stale = ConcurrentHashMap.newKeySet();
    /** Set when every binding must be re-resolved and re-read (the status port may have missed changes). */
    private final AtomicBoolean rereadAll = new AtomicBoolean();
    private volatile int size;

    /** {@code unbind} hands a closed binding to the model's actor, which calls {@link #remove}. */
    Bindings(ModuleStatusStore store, Consumer<Binding> unbind) {
        this.store = store;
        this.unbind = unbind;
    }

    /**
     * Adds a binding and tells the listener the current value (unless a change told it one first). On the model's
     * actor; throws the store's failure, leaving no binding behind.
     */
    Binding bind(SystemId system, ModuleRef ref, String status, Consumer<String> listener) {
        Binding b = new Binding(system, ref, status, listener);
        // Attached before the value is read, so no change between the two is missed (PlaceOS' bind rule).
        bySystem.computeIfAbsent(system, k -> new LinkedHashSet<>()).add(b);
        size++;
        try {
            attach(b, store.lookup(system, ref));
            b.read(null, current(b));
        } catch (RuntimeException e) {
            remove(b);
            throw e;
        }
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
     * A system's lookup changed (any thread): marks its bindings for {@link #catchUp}. Returns whether it has bindings
     * and was not marked already, i.e. whether the caller must make sure a catch-up turn comes.
     */
    boolean markStale(SystemId system) {
        return bySystem.containsKey(system) && stale.add(system);
    }

    /** The status port may have missed changes (any thread): {@link #catchUp} re-resolves and re-reads every binding. */
    @Override
    public void resynced() {
        rereadAll.set(true);
    }

    /**
     * Re-resolves the bindings of the systems marked stale — every binding, re-reading every value, after
     * {@link #resynced} — and tells each listener whose value differs from what it was last told. On the model's
     * actor. When the store fails, everything is marked for the next catch-up and the failure thrown.
     */
    void catchUp() {
        boolean all = rereadAll.getAndSet(false);
        List<SystemId> systems = new ArrayList<>();
        if (all) {
            // Marked before the flag was taken or after: either way covered by reading everything now.
            stale.clear();
            systems.addAll(bySystem.keySet());
        } else {
            for (var it = stale.iterator(); it.hasNext(); ) {
                systems.add(it.next());
                it.remove();
            }
        }
        Map<Variable, String> read = new HashMap<>();
        try {
            for (SystemId system : systems) {
                refresh(system, all, read);
            }
        } catch (RuntimeException e) {
            // Some bindings may have moved without their listeners hearing: re-reading all of them is what fixes that.
            rereadAll.set(true);
            throw e;
        }
    }

    /**
     * Re-resolves a system's bindings through its lookup: one whose module changed hears the new module's value, and
     * with {@code reread} every one re-reads its value; either is told only when it differs.
     */
    private void refresh(SystemId system, boolean reread, Map<Variable, String> read) {
        Set<Binding> s = bySystem.get(system);
        if (s == null) {
            return;
        }
        Map<ModuleRef, ModuleId> lookup = store.system(system);
        List<Binding> changed = new ArrayList<>();
        for (Binding b : s) {
            Optional<ModuleId> now = Optional.ofNullable(lookup.get(b.ref));
            if (!now.equals(b.target)) {
                detach(b);
                attach(b, now);
                changed.add(b);
            } else if (reread) {
                changed.add(b);
            }
        }
        for (Binding b : changed) {
            // What it was told before the read: a change told after it is as new as the read, or newer.
            Told seen = b.told.get();
            String value = b.target.isEmpty() ? NONE
                    : read.computeIfAbsent(new Variable(b.target.get(), b.status), v -> store.get(v.module(), v.name()).orElse(NONE));
            b.read(seen, value);
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
            b.changed(value);
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
