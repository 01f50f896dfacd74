package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Consumer;

/**
 * Indirect subscriptions: a binding names (system, module name, index, status variable) and is resolved through the
 * system's index, never kept as a module id, so after the system is re-ordered or a module replaced it follows
 * whatever module now sits there. The listener hears the current value at once and every change after.
 */
final class Bindings {

    /** One client's standing request. */
    final class Binding implements AutoCloseable {
        final String system;
        final String module;
        final int index;
        final String status;
        final Consumer<JsonNode> listener;
        /** The module id it resolves to now; empty when the system has no such module. Guarded by Bindings.this. */
        Optional<String> target = Optional.empty();

        Binding(String system, String module, int index, String status, Consumer<JsonNode> listener) {
            this.system = system;
            this.module = module;
            this.index = index;
            this.status = status;
            this.listener = listener;
        }

        @Override
        public void close() {
            remove(this);
        }
    }

    private final BiFunction<String, String, Optional<JsonNode>> values;
    /** module id → status name → bindings resolved to it. */
    private final Map<String, Map<String, Set<Binding>>> byModule = new HashMap<>();
    /** system id → its bindings. */
    private final Map<String, Set<Binding>> bySystem = new HashMap<>();

    /** {@code values} reads a module's status variable: (module id, name) → value. */
    Bindings(BiFunction<String, String, Optional<JsonNode>> values) {
        this.values = values;
    }

    /** Adds a binding resolved to {@code target} and tells the listener the current value (null JSON when none). */
    Binding bind(String system, String module, int index, String status, Optional<String> target, Consumer<JsonNode> listener) {
        Binding b = new Binding(system, module, index, status, listener);
        synchronized (this) {
            bySystem.computeIfAbsent(system, k -> new HashSet<>()).add(b);
            attach(b, target);
        }
        listener.accept(current(b, target));
        return b;
    }

    private JsonNode current(Binding b, Optional<String> target) {
        return target.flatMap(id -> values.apply(id, b.status)).orElse(com.fasterxml.jackson.databind.node.NullNode.getInstance());
    }

    private void attach(Binding b, Optional<String> target) {
        b.target = target;
        target.ifPresent(id -> byModule.computeIfAbsent(id, k -> new HashMap<>()).computeIfAbsent(b.status, k -> new HashSet<>()).add(b));
    }

    private void detach(Binding b) {
        b.target.ifPresent(id -> {
            Map<String, Set<Binding>> m = byModule.get(id);
            if (m != null) {
                Set<Binding> s = m.get(b.status);
                if (s != null) {
                    s.remove(b);
                    if (s.isEmpty()) {
                        m.remove(b.status);
                    }
                }
                if (m.isEmpty()) {
                    byModule.remove(id);
                }
            }
        });
        b.target = Optional.empty();
    }

    private synchronized void remove(Binding b) {
        detach(b);
        Set<Binding> s = bySystem.get(b.system);
        if (s != null) {
            s.remove(b);
            if (s.isEmpty()) {
                bySystem.remove(b.system);
            }
        }
    }

    /** A module's status changed: every binding resolved to it hears the value. */
    void changed(String moduleId, String status, JsonNode value) {
        List<Binding> hit;
        synchronized (this) {
            Map<String, Set<Binding>> m = byModule.get(moduleId);
            Set<Binding> s = m == null ? null : m.get(status);
            if (s == null || s.isEmpty()) {
                return;
            }
            hit = new ArrayList<>(s);
        }
        for (Binding b : hit) {
            b.listener.accept(value);
        }
    }

    /**
     * A system's index changed: re-resolve its bindings with {@code resolver} (module name, index → module id); a
     * binding whose module changed hears the new module's value.
     */
    void reindex(String system, BiFunction<String, Integer, Optional<String>> resolver) {
        List<Binding> moved = new ArrayList<>();
        synchronized (this) {
            Set<Binding> s = bySystem.get(system);
            if (s == null) {
                return;
            }
            for (Binding b : s) {
                Optional<String> now = resolver.apply(b.module, b.index);
                if (!now.equals(b.target)) {
                    detach(b);
                    attach(b, now);
                    moved.add(b);
                }
            }
        }
        for (Binding b : moved) {
            b.listener.accept(current(b, b.target));
        }
    }

    synchronized int size() {
        return bySystem.values().stream().mapToInt(Set::size).sum();
    }
}
