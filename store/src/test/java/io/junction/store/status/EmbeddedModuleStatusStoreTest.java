package io.junction.store.status;

import io.junction.core.device.ModuleId;
import io.junction.core.state.StateStore;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.status.ModuleStatusStoreContract;
import io.junction.store.state.SqliteStateStore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The embedded module status adapter, written behind to a real SQLite state file. */
class EmbeddedModuleStatusStoreTest extends ModuleStatusStoreContract {

    @TempDir
    Path dir;

    private StateStore state;

    @Override
    protected ModuleStatusStore open() {
        state = SqliteStateStore.open(dir, Clock.systemUTC());
        return EmbeddedModuleStatusStore.open(state, Clock.systemUTC());
    }

    @Override
    protected ModuleStatusStore reopen() {
        state.close();
        return open();
    }

    @Override
    protected void closeEngine() {
        state.close();
    }

    @Test
    void changesAreWrittenBehindWithoutAFlush() {
        ModuleId m = ModuleId.of("sensor");
        try (EmbeddedModuleStatusStore behind = EmbeddedModuleStatusStore.open(state, Clock.systemUTC(), Duration.ofMillis(50))) {
            for (int i = 0; i < 1000; i++) {
                behind.set(m, "level", Integer.toString(i));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> state.get(EmbeddedModuleStatusStore.COLLECTION, "status/sensor")
                    .map(r -> r.json().equals("{\"level\":999}")).orElse(false));
            assertThat(state.get(EmbeddedModuleStatusStore.COLLECTION, "status/sensor").orElseThrow().version())
                    .as("a thousand changes cost a few writes, not a thousand").isLessThan(100);
        }
    }
}
