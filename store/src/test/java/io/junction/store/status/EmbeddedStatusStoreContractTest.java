package io.junction.store.status;

import io.junction.core.status.StatusStore;
import io.junction.core.status.StatusStoreContract;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The status contract over the embedded store, with its snapshot on real files. */
class EmbeddedStatusStoreContractTest extends StatusStoreContract {

    @TempDir
    Path dataDir;

    @Override
    protected StatusStore openStore() {
        return EmbeddedStatusStore.open(dataDir);
    }
}
