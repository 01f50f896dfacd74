package io.junction.scaleout.redis;

import io.junction.core.status.StatusStore;
import io.junction.core.status.StatusStoreContract;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.BeforeEach;

/** The status contract against a real Redis, each test on a database of its own. */
class RedisStatusStoreContractTest extends StatusStoreContract {

    private String url;

    @BeforeEach
    void freshDatabase() {
        url = RedisTestServer.freshUrl();
    }

    @Override
    protected StatusStore openStore() {
        return RedisStatusStore.open(url, EngineHealth.NONE);
    }
}
