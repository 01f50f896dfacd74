package io.junction.scaleout.postgres;

import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TelemetryStoreContract;

import org.junit.jupiter.api.BeforeEach;

/** The telemetry contract on a real PostgreSQL server, each test in a schema of its own. */
class PostgresTelemetryStoreTest extends TelemetryStoreContract {

    private String url;

    @BeforeEach
    void freshSchema() {
        url = PostgresServer.get().freshSchemaUrl();
    }

    @Override
    protected TelemetryStore openStore() {
        PostgresServer pg = PostgresServer.get();
        return PostgresTelemetryStore.open(url, pg.user, pg.password, 2);
    }
}
