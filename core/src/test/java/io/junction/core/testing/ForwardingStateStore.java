package io.junction.core.testing;

import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A state store that passes every call to another one, for tests that put something in the way of writes (a gate to
 * race changes, a full disk): a subclass overrides {@link #beforeWrite}, which runs before every put, delete and batch.
 */
public abstract class ForwardingStateStore implements StateStore {

    protected final StateStore inner;

    protected ForwardingStateStore(StateStore inner) {
        this.inner = inner;
    }

    /** Runs before each write reaches the inner store; what it throws is what the write throws. */
    protected abstract void beforeWrite();

    @Override
    public Optional<StateRecord> get(String collection, String key) {
        return inner.get(collection, key);
    }

    @Override
    public List<StateRecord> list(String collection) {
        return inner.list(collection);
    }

    @Override
    public StateRecord put(String collection, String key, String json, long expectedVersion) {
        beforeWrite();
        return inner.put(collection, key, json, expectedVersion);
    }

    @Override
    public boolean delete(String collection, String key, long expectedVersion) {
        beforeWrite();
        return inner.delete(collection, key, expectedVersion);
    }

    @Override
    public List<StateRecord> write(List<StateWrite> writes) {
        beforeWrite();
        return inner.write(writes);
    }

    @Override
    public Watch watch(String collection, Consumer<StateChange> listener) {
        return inner.watch(collection, listener);
    }

    @Override
    public void close() {
        inner.close();
    }
}
