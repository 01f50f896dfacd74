package io.junction.core.state;

import io.junction.core.testing.MemoryStateStore;

import java.time.Clock;

/** The in-memory state used by feature tests keeps the same contract as the real adapters. */
class MemoryStateStoreTest extends StateStoreContract {

    private MemoryStateStore last;

    @Override
    protected StateStore open() {
        last = new MemoryStateStore(Clock.systemUTC());
        return last;
    }

    @Override
    protected StateStore reopen() {
        last = new MemoryStateStore(Clock.systemUTC(), last.snapshot());
        return last;
    }
}
