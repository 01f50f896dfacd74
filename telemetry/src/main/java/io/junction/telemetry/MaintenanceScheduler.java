package io.junction.telemetry;

import io.junction.core.actor.Actor;
import io.junction.core.telemetry.Maintenance;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;

/**
 * Runs downsampling and retention ({@link Maintenance}) in the background: an actor whose runs are timers on the
 * injected clock, every interval, and again soon while a run stopped at its step budget with work left (a backlog
 * after a long outage or a bulk import). Which buckets are due is decided inside {@link Maintenance}, from the same
 * clock; this actor only paces the runs.
 */
final class MaintenanceScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MaintenanceScheduler.class);
    /** The pause between the runs of a backlog, which leaves the store to the writer in between. */
    static final Duration BACKLOG_PAUSE = Duration.ofMillis(10);
    /** The tag of the one timer: a newer run replaces an older one. */
    private static final String NEXT_RUN = "next-run";

    /** What the scheduler is told. */
    private sealed interface Command {
    }

    /** Run downsampling and retention once, then set the timer of the next run from what the run reports. */
    private record Run() implements Command {
    }

    /** One maintenance run: {@link Maintenance#runOnce}, or a stand-in in tests. */
    @FunctionalInterface
    interface Runs {
        Maintenance.Report runOnce();
    }

    private final Runs maintenance;
    private final Duration interval;
    private final Clock clock;
    private final Counter rollupRows;
    private final Counter rawDeleted;
    private final Counter rollupsDeleted;
    private final Counter failures;
    private Actor<Command> actor;

    MaintenanceScheduler(Runs maintenance, Duration interval, Clock clock, MeterRegistry metrics) {
        this.maintenance = maintenance;
        this.interval = interval;
        this.clock = clock;
        rollupRows = Counter.builder("junction.telemetry.rollup.rows").description("rollup rows computed").register(metrics);
        rawDeleted = Counter.builder("junction.telemetry.deleted").tag("source", "raw").description("rows deleted by retention").register(metrics);
        rollupsDeleted = Counter.builder("junction.telemetry.deleted").tag("source", "rollups").description("rows deleted by retention").register(metrics);
        failures = Counter.builder("junction.telemetry.maintenance.failures").description("maintenance runs that failed").register(metrics);
    }

    /** Starts the actor with a first run at once. */
    void start() {
        actor = Actor.start("telemetry-maintenance", 4, clock, this::handle);
        actor.schedule(clock.instant(), NEXT_RUN, new Run());
    }

    private void handle(Command c) {
        switch (c) {
            case Run r -> actor.scheduleAfter(run() ? interval : BACKLOG_PAUSE, NEXT_RUN, new Run());
        }
    }

    /** One run; returns false when it left work for another run soon. */
    private boolean run() {
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
            return r.caughtUp();
        } catch (RuntimeException e) {
            failures.increment();
            log.warn("telemetry maintenance failed (it resumes from its watermarks on the next run): {}", e.toString(), e);
            return true;
        }
    }

    /** Stops after the current run (whose last step is stored; the rest resumes on the next start). */
    @Override
    public void close() {
        if (actor != null) {
            actor.close(Duration.ofSeconds(30));
        }
    }
}
