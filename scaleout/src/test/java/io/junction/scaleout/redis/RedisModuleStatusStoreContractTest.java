package io.junction.scaleout.redis;

import io.junction.core.status.ModuleStatusStore;
import io.junction.core.status.ModuleStatusStoreContract;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.RedisTestServer;

/** The module status contract against a real Redis, each test on a database of its own. */
class RedisModuleStatusStoreContractTest extends ModuleStatusStoreContract {

    private String url;

    @Override
    protected ModuleStatusStore open() {
        url = RedisTestServer.freshUrl();
        return RedisModuleStatusStore.open(url, EngineHealth.NONE);
    }

    @Override
    protected ModuleStatusStore reopen() {
        return RedisModuleStatusStore.open(url, EngineHealth.NONE);
    }
}
