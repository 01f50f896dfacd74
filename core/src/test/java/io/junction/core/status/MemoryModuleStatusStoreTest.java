package io.junction.core.status;

import io.junction.core.testing.MemoryModuleStatusStore;

/** The in-memory module status used by feature tests keeps the same contract as the real adapters. */
class MemoryModuleStatusStoreTest extends ModuleStatusStoreContract {

    private MemoryModuleStatusStore last;

    @Override
    protected ModuleStatusStore open() {
        last = new MemoryModuleStatusStore();
        return last;
    }

    @Override
    protected ModuleStatusStore reopen() {
        last = last.reopened();
        return last;
    }
}
