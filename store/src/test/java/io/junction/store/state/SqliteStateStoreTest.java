package io.junction.store.state;

import io.junction.core.state.StateStore;
import io.junction.core.state.StateStoreContract;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;

/** The embedded state adapter against a real SQLite file. */
class SqliteStateStoreTest extends StateStoreContract {

    @TempDir
    Path dir;

    @Override
    protected StateStore open() {
        return SqliteStateStore.open(dir, Clock.systemUTC());
    }

    @Override
    protected StateStore reopen() {
        return SqliteStateStore.open(dir, Clock.systemUTC());
    }
}
