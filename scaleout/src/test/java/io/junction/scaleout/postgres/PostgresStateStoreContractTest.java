package io.junction.scaleout.postgres;

import io.junction.core.state.StateStore;
import io.junction.core.state.StateStoreContract;
import io.junction.scaleout.engines.PostgresTestServer;

import java.time.Clock;

/** The state contract on a real PostgreSQL server, each test in a schema of its own. */
class PostgresStateStoreContractTest extends StateStoreContract {

    /** This test's schema: taken by the first open (JUnit makes a new instance per test), kept by reopen. */
    private String url;

    @Override
    protected StateStore open() {
        if (url == null) {
            url = PostgresTestServer.freshSchemaUrl();
        }
        return PostgresStateStore.open(url, PostgresTestServer.user(), PostgresTestServer.password(), 2, Clock.systemUTC());
    }

    @Override
    protected StateStore reopen() {
        return open();
    }
}
