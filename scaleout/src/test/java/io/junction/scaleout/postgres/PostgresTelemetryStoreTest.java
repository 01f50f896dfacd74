package io.junction.scaleout.postgres;

import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TelemetryStoreContract;
import io.junction.scaleout.engines.PostgresTestServer;

import org.junit.jupiter.api.BeforeEach;

/** The telemetry contract on a real PostgreSQL server, each test in a schema of its own. */
class PostgresTelemetryStoreTest extends TelemetryStoreContract {

    private String url;

    @BeforeEach
    void freshSchema() {
        url = PostgresTestServer.freshSchemaUrl();
    }

    @Override
    protected TelemetryStore openStore() {
        return PostgresTelemetryStore.open(url, PostgresTestServer.user(), PostgresTestServer.password(), 2);
    }
}
