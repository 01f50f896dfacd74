package io.junction.telemetry;

import io.junction.core.telemetry.Maintenance;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs downsampling and retention ({@link Maintenance}) in the background: every interval, and again at once while a
 * run stopped at its step budget with work left (a backlog after a long outage or a bulk import). Which buckets are
 * due comes from the injected clock inside {@link Maintenance}; this thread only paces the runs.
 */
final class MaintenanceScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MaintenanceScheduler.class);

    private final Maintenance maintenance;
    private final long intervalNanos;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Counter rollupRows;
    private final Counter rawDeleted;
    private final Counter rollupsDeleted;
    private final Counter failures;
    private Thread thread;

    MaintenanceScheduler(Maintenance maintenance, long intervalNanos, MeterRegistry metrics) {
        this.maintenance = maintenance;
        this.intervalNanos = intervalNanos;
        rollupRows = Counter.builder("junction.telemetry.rollup.rows").description("rollup rows computed").register(metrics);
        rawDeleted = Counter.builder("junction.telemetry.deleted").tag("source", "raw").description("rows deleted by retention").register(metrics);
        rollupsDeleted = Counter.builder("junction.telemetry.deleted").tag("source", "rollups").description("rows deleted by retention").register(metrics);
        failures = Counter.builder("junction.telemetry.maintenance.failures").description("maintenance runs that failed").register(metrics);
    }

    void start() {
        thread = Thread.ofVirtual().name("telemetry-maintenance").start(this::loop);
    }

    private void loop() {
        while (true) {
            long wait = intervalNanos;
            try {
                long started = System.nanoTime();
                Maintenance.Report r = maintenance.runOnce();
                rollupRows.increment(r.rollupRows());
                rawDeleted.increment(r.rawDeleted());
                rollupsDeleted.increment(r.rollupsDeleted());
                if (r.rollupRows() > 0 || r.rawDeleted() > 0 || r.rollupsDeleted() > 0 || r.lateStretches() > 0) {
                    log.info("telemetry maintenance rollupRows={} lateStretches={} rawDeleted={} rollupsDeleted={} caughtUp={} ms={}",
                            r.rollupRows(), r.lateStretches(), r.rawDeleted(), r.rollupsDeleted(), r.caughtUp(),
                            (System.nanoTime() - started) / 1_000_000);
                }
                if (!r.caughtUp()) {
                    wait = TimeUnit.MILLISECONDS.toNanos(10);
                }
            } catch (RuntimeException e) {
                failures.increment();
                log.warn("telemetry maintenance failed (it resumes from its watermarks on the next run): {}", e.toString(), e);
            }
            try {
                if (stop.await(wait, TimeUnit.NANOSECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Stops after the current run (whose last step is stored; the rest resumes on the next start). */
    @Override
    public void close() {
        stop.countDown();
        if (thread != null) {
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
