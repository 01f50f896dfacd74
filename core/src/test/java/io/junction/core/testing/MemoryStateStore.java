package io.junction.core.testing;

import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.state.VersionConflictException;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The state port in memory, for unit tests of features that keep state: it passes the same contract as the real
 * adapters ({@code MemoryStateStoreTest}), without their durability. {@link #snapshot()} and the constructor that
 * takes one stand in for closing and opening again.
 */
public final class MemoryStateStore implements StateStore {

    private final Clock clock;
    private final TreeMap<String, TreeMap<String, StateRecord>> data;
    private final CopyOnWriteArrayList<Map.Entry<String, Consumer<StateChange>>> listeners = new CopyOnWriteArrayList<>();

    public MemoryStateStore(Clock clock) {
        this(clock, new TreeMap<>());
    }

    /** A store holding what {@code snapshot} held. */
    public MemoryStateStore(Clock clock, Map<String, TreeMap<String, StateRecord>> snapshot) {
        this.clock = clock;
        this.data = new TreeMap<>();
        snapshot.forEach((c, records) -> data.put(c, new TreeMap<>(records)));
    }

    /** A copy of everything, for a later {@link #MemoryStateStore(Clock, Map)}. */
    public synchronized Map<String, TreeMap<String, StateRecord>> snapshot() {
        Map<String, TreeMap<String, StateRecord>> copy = new TreeMap<>();
        data.forEach((c, records) -> copy.put(c, new TreeMap<>(records)));
        return copy;
    }

    @Override
    public synchronized Optional<StateRecord> get(String collection, String key) {
        StateStore.check(collection, key);
        return Optional.ofNullable(data.getOrDefault(collection, new TreeMap<>()).get(key));
    }

    @Override
    public synchronized List<StateRecord> list(String collection) {
        StateStore.check(collection, "*");
        return new ArrayList<>(data.getOrDefault(collection, new TreeMap<>()).values());
    }

    @Override
    public StateRecord put(String collection, String key, String json, long expectedVersion) {
        return write(List.of(new StateWrite.Put(collection, key, json, expectedVersion))).get(0);
    }

    @Override
    public synchronized boolean delete(String collection, String key, long expectedVersion) {
        boolean existed = get(collection, key).isPresent();
        write(List.of(new StateWrite.Delete(collection, key, expectedVersion)));
        return existed;
    }

    @Override
    public synchronized List<StateRecord> write(List<StateWrite> writes) {
        for (StateWrite w : writes) {
            StateStore.check(w.collection(), w.key());
            long current = get(w.collection(), w.key()).map(StateRecord::version).orElse(0L);
            if (w.expectedVersion() != ANY && w.expectedVersion() != current) {
                throw new VersionConflictException(w.collection(), w.key(), w.expectedVersion(), current);
            }
        }
        List<StateRecord> written = new ArrayList<>();
        List<StateChange> changes = new ArrayList<>();
        for (StateWrite w : writes) {
            TreeMap<String, StateRecord> c = data.computeIfAbsent(w.collection(), k -> new TreeMap<>());
            long current = Optional.ofNullable(c.get(w.key())).map(StateRecord::version).orElse(0L);
            switch (w) {
                case StateWrite.Put p -> {
                    StateRecord r = new StateRecord(p.collection(), p.key(), current + 1, p.json(), clock.millis());
                    c.put(p.key(), r);
                    written.add(r);
                    changes.add(new StateChange(r.collection(), r.key(), Optional.of(r)));
                }
                case StateWrite.Delete d -> {
                    if (c.remove(d.key()) != null) {
                        changes.add(new StateChange(d.collection(), d.key(), Optional.empty()));
                    }
                }
            }
        }
        for (StateChange change : changes) {
            for (Map.Entry<String, Consumer<StateChange>> l : listeners) {
                if (l.getKey().equals(change.collection())) {
                    l.getValue().accept(change);
                }
            }
        }
        return written;
    }

    @Override
    public Watch watch(String collection, Consumer<StateChange> listener) {
        Map.Entry<String, Consumer<StateChange>> l = Map.entry(collection, listener);
        listeners.add(l);
        return () -> listeners.remove(l);
    }

    @Override
    public void close() {
    }
}
