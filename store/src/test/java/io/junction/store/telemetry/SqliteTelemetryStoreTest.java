package io.junction.store.telemetry;

import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TelemetryStoreContract;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The telemetry contract on the embedded SQLite store. */
class SqliteTelemetryStoreTest extends TelemetryStoreContract {

    @TempDir
    Path dir;

    @Override
    protected TelemetryStore openStore() {
        return SqliteTelemetryStore.open(dir, false);
    }
}
