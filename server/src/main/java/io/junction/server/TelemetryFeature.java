package io.junction.server;

import io.junction.core.config.ConfigException;
import io.junction.core.config.JunctionConfig;
import io.junction.core.feature.FeatureContext;
import io.junction.core.stream.MessageStream;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.scaleout.postgres.PostgresTelemetryStore;
import io.junction.store.telemetry.SqliteTelemetryStore;
import io.junction.telemetry.Telemetry;
import io.junction.telemetry.TelemetrySettings;

/**
 * Starts the telemetry feature for the composition root: picks the store from {@code [telemetry] store} (embedded
 * SQLite in {@code <data dir>/telemetry}, or PostgreSQL), starts the writer on the raw stream, the maintenance and the
 * routes, and returns what closes them in reverse.
 */
final class TelemetryFeature extends NamedFeature<TelemetrySettings> {

    TelemetryFeature() {
        super("telemetry", TelemetrySettings::read);
    }

    @Override
    public AutoCloseable start(FeatureContext context, TelemetrySettings settings) {
        if (!settings.enabled()) {
            return () -> {
            };
        }
        TelemetryStore store = open(context, settings);
        try {
            // The writer keeps its offset per stream name, so switching streams starts that stream from its beginning.
            MessageStream source = settings.stream() == TelemetrySettings.StreamName.PROCESSED ? context.processed() : context.raw();
            Telemetry telemetry = Telemetry.start(store, source, context.hub(), context.clock(), context.metrics(), settings);
            telemetry.register(context.routes());
            return () -> {
                telemetry.close();
                store.close();
            };
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static TelemetryStore open(FeatureContext context, TelemetrySettings settings) {
        return switch (settings.store()) {
            case EMBEDDED -> {
                try {
                    // With fsync = always a line-protocol write answered 204 survives a power cut, like an acknowledged publish.
                    yield SqliteTelemetryStore.open(context.dataDir().resolve("telemetry"),
                            context.config().data().fsync() == JunctionConfig.Fsync.ALWAYS);
                } catch (RuntimeException e) {
                    throw new StartupException("cannot open the telemetry store: " + e.getMessage(), e);
                }
            }
            case POSTGRES -> {
                TelemetrySettings.Postgres pg = settings.postgres();
                String password = pg.password().orElse("");
                if (pg.passwordEnv().isPresent()) {
                    password = context.env().apply(pg.passwordEnv().get());
                    if (password == null) {
                        throw new ConfigException(context.config().source() + ": telemetry.postgres.password_env: the"
                                + " environment variable " + pg.passwordEnv().get() + " is not set");
                    }
                }
                try {
                    yield PostgresTelemetryStore.open(pg.url(), pg.user(), password, pg.pool());
                } catch (RuntimeException e) {
                    throw new StartupException(e.getMessage(), e);
                }
            }
        };
    }
}
