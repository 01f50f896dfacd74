package io.junction.telemetry;

import io.junction.core.telemetry.Maintenance;
import io.junction.core.testing.MutableClock;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The maintenance runs are timers on the injected clock: moving the clock is what makes them due. */
class MaintenanceSchedulerTest {

    private static final Duration INTERVAL = Duration.ofSeconds(60);
    private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    private final AtomicInteger runs = new AtomicInteger();
    /** What the next runs report (or throw); an empty queue means a run that caught up. */
    private final ConcurrentLinkedQueue<Object> script = new ConcurrentLinkedQueue<>();
    private MaintenanceScheduler scheduler;

    private Maintenance.Report run() {
        runs.incrementAndGet();
        Object next = script.poll();
        if (next instanceof RuntimeException e) {
            throw e;
        }
        return next instanceof Maintenance.Report r ? r : new Maintenance.Report(0, 0, 0, 0, true);
    }

    private void start() {
        scheduler = new MaintenanceScheduler(this::run, INTERVAL, clock, metrics);
        scheduler.start();
    }

    @AfterEach
    void close() {
        if (scheduler != null) {
            scheduler.close();
        }
    }

    /** Asserts that no run happens while the clock stands still (the actor looks at the clock every 100 ms). */
    private void noRunFor(int expected) {
        await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(2)).until(() -> runs.get() == expected);
    }

    @Test
    void aRunHappensAtStartAndThenOnceEveryIntervalOfTheClock() {
        start();
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 1);
        clock.advance(INTERVAL.minusSeconds(1));
        noRunFor(1);
        clock.advance(Duration.ofSeconds(1));
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
        clock.advance(INTERVAL);
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 3);
        noRunFor(3);
    }

    @Test
    void aRunThatStoppedAtItsBudgetIsFollowedByAnotherAfterAShortPause() {
        script.add(new Maintenance.Report(100, 0, 0, 0, false));
        script.add(new Maintenance.Report(100, 0, 0, 0, false));
        start();
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 1);
        clock.advance(MaintenanceScheduler.BACKLOG_PAUSE);
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
        clock.advance(MaintenanceScheduler.BACKLOG_PAUSE);
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 3);
        // Caught up: back to the interval.
        clock.advance(MaintenanceScheduler.BACKLOG_PAUSE);
        noRunFor(3);
        assertThat(metrics.get("junction.telemetry.rollup.rows").counter().count()).isEqualTo(200);
    }

    @Test
    void aFailedRunIsCountedAndTheNextOneComesAfterTheInterval() {
        script.add(new IllegalStateException("database is locked (a test)"));
        start();
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 1);
        assertThat(metrics.get("junction.telemetry.maintenance.failures").counter().count()).isEqualTo(1);
        clock.advance(MaintenanceScheduler.BACKLOG_PAUSE);
        noRunFor(1);
        clock.advance(INTERVAL);
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
    }

    @Test
    void afterCloseNoRunHappens() {
        start();
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 1);
        scheduler.close();
        clock.advance(INTERVAL.multipliedBy(3));
        noRunFor(1);
    }
}
