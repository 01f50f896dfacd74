package io.junction.telemetry;

import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.stream.MessageStream;
import io.junction.core.telemetry.Maintenance;
import io.junction.core.telemetry.TelemetryReader;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TimeSpans;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;

/**
 * The telemetry feature on a store the composition root chose: the writer that follows the stream, the line-protocol
 * and query routes, and background downsampling and retention. The only public entry point of this module.
 */
public final class Telemetry implements AutoCloseable {

    /** How long after a bucket ends it is downsampled; points arriving later still reach it (late path). */
    private static final long DOWNSAMPLE_DELAY = 10 * TimeSpans.NS_PER_S;
    /** Rollup transactions per maintenance run, so that a run (and a shutdown waiting for it) stays short. */
    private static final int STEPS_PER_RUN = 8;

    private final TelemetryWriter writer;
    private final MaintenanceScheduler scheduler;
    private final TelemetryRoutes routes;

    private Telemetry(TelemetryWriter writer, MaintenanceScheduler scheduler, TelemetryRoutes routes) {
        this.writer = writer;
        this.scheduler = scheduler;
        this.routes = routes;
    }

    /**
     * Starts the writer on {@code stream} (from its stored offset) and the maintenance schedule. The store stays the
     * caller's to close, after this.
     */
    public static Telemetry start(TelemetryStore store, MessageStream stream, EventHub hub, Clock clock,
                                  MeterRegistry metrics, TelemetrySettings settings) {
        Maintenance maintenance = new Maintenance(store, settings.retention(), clock, DOWNSAMPLE_DELAY, STEPS_PER_RUN);
        // Before any write: points behind the stored watermarks must be tracked as late.
        maintenance.prepare();
        PointWriter out = new PointWriter(store, settings.retention(), clock, hub, metrics);
        Gauge.builder("junction.telemetry.store.bytes", store, TelemetryStore::sizeBytes)
                .description("bytes the telemetry store takes").register(metrics);
        Flattener flattener = new Flattener(settings.strings(), settings.tags(), settings.maxFields());
        TelemetryWriter writer = new TelemetryWriter(stream, store, out, new MessagePoints(flattener),
                new TelemetryWriter.Selection(settings.keys(), new HashSet<>(settings.kinds()), settings.deviceTelemetry()),
                settings.batch(), settings.queue(), metrics);
        MaintenanceScheduler scheduler = new MaintenanceScheduler(maintenance::runOnce,
                Duration.ofNanos(settings.maintenanceInterval()), clock, metrics);
        TelemetryRoutes routes = new TelemetryRoutes(out, new TelemetryReader(store, settings.retention(), settings.limits()),
                settings.retention());
        writer.start();
        try {
            scheduler.start();
        } catch (RuntimeException e) {
            writer.close();
            throw e;
        }
        return new Telemetry(writer, scheduler, routes);
    }

    /** Adds {@code POST /api/telemetry/write} and {@code GET /api/telemetry/query|last|series}. */
    public void register(RouteTable table) {
        routes.register(table);
    }

    /** Stops the writer and the maintenance (each finishes the transaction it is in). */
    @Override
    public void close() {
        writer.close();
        scheduler.close();
    }
}
