package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.devices.DevicesSettings.Definition;
import io.junction.core.testing.MutableClock;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.ExecException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The job manager against a real journal in a temporary folder, a clock the tests move, and a recording stand-in for
 * the module runtime: steps at their due times, restarts (clean and as after {@code kill -9}), neutral states.
 */
class JobsTest {

    static final Instant T0 = Instant.parse("2026-03-01T08:00:00Z");
    static final Principal ALICE = new Principal("alice", Role.USER);

    static final String WATER = """
            {"name": "water", "driver": "garden-pump", "params": {"duration": ["Duration", "5m"]},
             "steps": [{"call": "power", "args": {"state": true}}, {"wait": "{duration}"}, {"call": "power", "args": {"state": false}}],
             "neutral": [{"call": "power", "args": {"state": false}}]}""";
    static final String BOOST = """
            {"name": "boost", "driver": "garden-pump", "params": {"level": "Int32", "hold": ["Duration", "2m"]},
             "steps": [{"call": "power", "args": {"state": true}}, {"wait": "1m"}, {"call": "speed", "args": {"level": "{level}"}},
                       {"wait": "{hold}"}, {"call": "power", "args": {"state": false}}],
             "neutral": [{"call": "speed", "args": {"level": 0}}, {"call": "power", "args": {"state": false}}]}""";
    static final String FLUSH = """
            {"name": "flush", "driver": "garden-pump",
             "steps": [{"call": "purge"}, {"wait": "10s"}, {"call": "power", "args": {"state": false}}],
             "neutral": [{"call": "power", "args": {"state": false}}]}""";

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(T0);
    final DriverCatalog drivers = new DriverCatalog(clock);
    final FakeModules modules = new FakeModules(clock, drivers);
    /** The registry of the job manager opened last (each gets its own, as each server process has one). */
    SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    final List<Jobs> opened = new ArrayList<>();

    @BeforeEach
    void setUp() {
        drivers.put(new PumpDriver());
        modules.add("pump-1", PumpDriver.ID);
        modules.add("pump-2", PumpDriver.ID);
    }

    @AfterEach
    void tearDown() {
        for (Jobs j : opened) {
            j.halt();
        }
    }

    static Definition def(String json, String where) {
        try {
            return new Definition((ObjectNode) Json.parse(json), where);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    Jobs open() {
        metrics = new SimpleMeterRegistry();
        Jobs jobs = Jobs.builder(dir, modules, drivers)
                .configJobs(List.of(def(WATER, "junction.toml:12"), def(BOOST, "junction.toml:20"), def(FLUSH, "junction.toml:30")))
                .clock(clock).metrics(metrics).tick(Duration.ofMillis(5)).stopTimeout(Duration.ofSeconds(5)).build().start();
        opened.add(jobs);
        return jobs;
    }

    static ObjectNode args(String json) {
        try {
            return (ObjectNode) Json.parse(json);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static <T> T join(CompletableFuture<T> f) {
        try {
            return f.get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static JobView view(Jobs jobs, String id) {
        return join(jobs.get(id)).orElseThrow();
    }

    List<FakeModules.Call> power(boolean state) {
        return modules.calls(c -> c.is("power", "state", state));
    }

    static Throwable failure(CompletableFuture<?> f) {
        try {
            f.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected the future to fail");
    }

    @Test
    void stepsRunInOrderAtTheirDueTimesAsTheCaller() {
        Jobs jobs = open();
        JobView started = join(jobs.startJob(ALICE, "pump-1", "boost", args("{\"level\": 3}")));
        assertThat(started.state()).isEqualTo(JobState.RUNNING);
        assertThat(started.deadline()).isEqualTo(T0.plus(Duration.ofMinutes(3)));
        assertThat(started.args().toString()).isEqualTo("{\"level\":3,\"hold\":\"2m\"}");

        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        assertThat(power(true).getFirst().at()).isEqualTo(T0);
        assertThat(power(true).getFirst().caller()).isEqualTo(ALICE);

        clock.advance(Duration.ofSeconds(59));
        await().during(Duration.ofMillis(150)).atMost(2, TimeUnit.SECONDS).until(() -> modules.all().size() == 1);
        clock.advance(Duration.ofSeconds(1));
        await().atMost(10, TimeUnit.SECONDS).until(() -> modules.all().size() == 2);
        FakeModules.Call speed = modules.all().get(1);
        assertThat(speed.function()).isEqualTo("speed");
        assertThat(speed.args().get("level").isIntegralNumber()).as("a placeholder keeps its JSON type").isTrue();
        assertThat(speed.args().get("level").asInt()).isEqualTo(3);
        assertThat(speed.at()).isEqualTo(T0.plus(Duration.ofMinutes(1)));
        assertThat(view(jobs, started.id()).next()).contains(T0.plus(Duration.ofMinutes(3)));

        clock.advance(Duration.ofMinutes(2));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(jobs, started.id()).state() == JobState.DONE);
        JobView done = view(jobs, started.id());
        assertThat(power(false)).hasSize(1);
        assertThat(power(false).getFirst().at()).isEqualTo(T0.plus(Duration.ofMinutes(3)));
        assertThat(done.ended()).contains(T0.plus(Duration.ofMinutes(3)));
        assertThat(done.steps()).extracting(JobView.Step::status).containsExactly(StepStatus.DONE, StepStatus.DONE,
                StepStatus.DONE, StepStatus.DONE, StepStatus.DONE);
        assertThat(done.steps().get(2).due()).isEqualTo(T0.plus(Duration.ofMinutes(1)));
        assertThat(done.steps().get(2).began()).contains(T0.plus(Duration.ofMinutes(1)));
        assertThat(done.steps().get(2).result().orElseThrow().toString()).isEqualTo("{\"ok\":true}");
        assertThat(done.steps().get(3).duration()).contains("2m");
        assertThat(done.events()).as("a job that simply ran has no restarts or neutral calls").isEmpty();
        assertThat(metrics.get("junction.jobs.started").counter().count()).isEqualTo(1);
        assertThat(metrics.get("junction.jobs.finished").tag("outcome", "done").counter().count()).isEqualTo(1);
        assertThat(metrics.get("junction.jobs.running").gauge().value()).isZero();
        assertThat(metrics.get("junction.jobs.step.lateness").timer().count()).isEqualTo(3);
    }

    @Test
    void cleanShutdownAppliesNeutralAndTheJobResumesAndEndsAtItsDeadline() {
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{\"duration\": \"10m\"}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);

        clock.advance(Duration.ofMinutes(2));
        first.close();
        assertThat(power(false)).as("shutdown leaves the pump off").hasSize(1);
        assertThat(power(false).getFirst().caller()).isEqualTo(Principal.SYSTEM);

        clock.advance(Duration.ofMinutes(1));
        Jobs second = open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 2);
        FakeModules.Call reapplied = power(true).get(1);
        assertThat(reapplied.caller()).as("the re-apply runs as the job's caller").isEqualTo(ALICE);
        assertThat(reapplied.at()).isEqualTo(T0.plus(Duration.ofMinutes(3)));
        JobView running = view(second, id);
        assertThat(running.state()).isEqualTo(JobState.RUNNING);
        assertThat(running.steps().getFirst().began()).as("step 0 is not run again: it is re-applied").contains(T0);
        assertThat(running.events()).extracting(TraceEvent::kind).containsExactly("shutdown", "neutral", "restart", "reapply");

        clock.set(T0.plus(Duration.ofMinutes(10)).minusMillis(1));
        await().during(Duration.ofMillis(150)).atMost(2, TimeUnit.SECONDS).until(() -> power(false).size() == 1);
        clock.set(T0.plus(Duration.ofMinutes(10)));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.DONE);
        assertThat(power(false).get(1).at()).as("it finishes when it would have finished").isEqualTo(T0.plus(Duration.ofMinutes(10)));
        assertThat(view(second, id).ended()).contains(T0.plus(Duration.ofMinutes(10)));
    }

    @Test
    void afterACrashTheJobReappliesItsCurrentStepAndFinishesOnTime() {
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "boost", args("{\"level\": 7, \"hold\": \"4m\"}"))).id();
        clock.advance(Duration.ofMinutes(1));
        await().atMost(10, TimeUnit.SECONDS).until(() -> modules.calls(c -> c.function().equals("speed")).size() == 1);
        first.halt();

        clock.advance(Duration.ofMinutes(2));
        Jobs second = open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> modules.calls(c -> c.function().equals("speed")).size() == 2);
        assertThat(modules.calls(c -> c.function().equals("speed")).get(1).args().get("level").asInt())
                .as("the current state-setting step is the speed step").isEqualTo(7);
        assertThat(power(true)).as("only the last call is re-applied").hasSize(1);
        JobView v = view(second, id);
        assertThat(v.events()).filteredOn(e -> e.kind().equals("reapply")).singleElement()
                .satisfies(e -> assertThat(e.step()).hasValue(2));

        clock.set(T0.plus(Duration.ofMinutes(5)));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.DONE);
        assertThat(power(false).getFirst().at()).isEqualTo(T0.plus(Duration.ofMinutes(5)));
        assertThat(modules.calls(c -> c.function().equals("speed"))).hasSize(2);
    }

    @Test
    void aStepBegunButNotAnsweredBeforeACrashIsNotRunAgain() {
        modules.answer = c -> c.is("power", "state", true) ? new CompletableFuture<>()
                : CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        first.halt();

        modules.answer = c -> CompletableFuture.completedFuture(Json.object().put("ok", true));
        clock.advance(Duration.ofMinutes(1));
        Jobs second = open();
        JobView v = view(second, id);
        assertThat(v.steps().getFirst().status()).isEqualTo(StepStatus.INTERRUPTED);
        assertThat(v.events()).extracting(TraceEvent::kind).containsExactly("restart", "reapply-skipped");
        await().during(Duration.ofMillis(200)).atMost(2, TimeUnit.SECONDS).until(() -> power(true).size() == 1);

        clock.set(T0.plus(Duration.ofMinutes(5)));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.DONE);
        assertThat(power(true)).as("its steps run once, not twice").hasSize(1);
        assertThat(power(false)).hasSize(1);
    }

    @Test
    void aJobWhoseDeadlinePassedWhileDownEndsAtOnceInItsNeutralState() {
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        clock.advance(Duration.ofMinutes(1));
        first.halt();

        clock.advance(Duration.ofMinutes(30));
        Jobs second = open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.EXPIRED);
        JobView v = view(second, id);
        assertThat(power(false)).singleElement().satisfies(c -> {
            assertThat(c.caller()).isEqualTo(Principal.SYSTEM);
            assertThat(c.at()).isEqualTo(T0.plus(Duration.ofMinutes(31)));
        });
        assertThat(power(true)).as("nothing is re-applied").hasSize(1);
        assertThat(v.steps().get(2).status()).isEqualTo(StepStatus.SKIPPED);
        assertThat(v.reason()).contains("deadline passed while the server was down");
        assertThat(v.events().getFirst().detail()).contains("passed while the server was down");
        assertThat(v.events()).extracting(TraceEvent::kind).containsExactly("restart", "neutral");
        assertThat(metrics.get("junction.jobs.finished").tag("outcome", "expired").counter().count()).isEqualTo(1);
    }

    @Test
    void cancellingRunsTheNeutralCallsAndEndsTheJob() {
        Jobs jobs = open();
        String id = join(jobs.startJob(ALICE, "pump-1", "boost", args("{\"level\": 2}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);

        Throwable denied = failure(jobs.cancel(new Principal("bob", Role.USER), id));
        assertThat(denied).isInstanceOf(JobException.class).hasMessageContaining("started by 'alice'");

        JobView cancelled = join(jobs.cancel(ALICE, id));
        assertThat(cancelled.state()).isEqualTo(JobState.CANCELLED);
        assertThat(cancelled.reason()).isEqualTo("cancelled by alice");
        assertThat(modules.all()).extracting(FakeModules.Call::function).containsExactly("power", "speed", "power");
        assertThat(modules.all().get(1).args().get("level").asInt()).as("neutral calls in order").isZero();
        assertThat(cancelled.steps()).extracting(JobView.Step::status).containsExactly(StepStatus.DONE, StepStatus.SKIPPED,
                StepStatus.SKIPPED, StepStatus.SKIPPED, StepStatus.SKIPPED);
        assertThat(cancelled.events()).extracting(TraceEvent::kind).containsExactly("neutral", "neutral");

        Throwable again = failure(jobs.cancel(ALICE, id));
        assertThat(again).isInstanceOf(JobException.class).hasMessageContaining("already ended");
        assertThat(((JobException) again).kind()).isEqualTo(JobException.Kind.CONFLICT);

        clock.advance(Duration.ofMinutes(10));
        await().during(Duration.ofMillis(150)).atMost(2, TimeUnit.SECONDS).until(() -> modules.all().size() == 3);
    }

    @Test
    void aModuleStoppingPutsItsJobsInTheNeutralStateFirst() {
        Jobs jobs = open();
        String one = join(jobs.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        String two = join(jobs.startJob(ALICE, "pump-2", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 2);

        modules.stop("pump-1");
        assertThat(power(false)).as("the neutral call ran before the module stopped").singleElement()
                .satisfies(c -> assertThat(c.module()).isEqualTo("pump-1"));
        JobView v = view(jobs, one);
        assertThat(v.state()).isEqualTo(JobState.MODULE_STOPPED);
        assertThat(v.reason()).isEqualTo("module pump-1 stopped");
        assertThat(view(jobs, two).state()).isEqualTo(JobState.RUNNING);
    }

    @Test
    void aFailingStepFailsTheJobAndRunsItsNeutralCalls() {
        modules.answer = c -> c.function().equals("speed")
                ? CompletableFuture.failedFuture(new ExecException(ExecException.Code.REQUEST_FAILED, "pump-1.speed did not answer within 5000 ms"))
                : CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs jobs = open();
        String id = join(jobs.startJob(ALICE, "pump-1", "boost", args("{\"level\": 9}"))).id();
        clock.advance(Duration.ofMinutes(1));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(jobs, id).state() == JobState.FAILED);
        JobView v = view(jobs, id);
        assertThat(v.steps().get(2).status()).isEqualTo(StepStatus.FAILED);
        assertThat(v.steps().get(2).error()).contains("pump-1.speed did not answer within 5000 ms");
        assertThat(v.reason()).isEqualTo("step 2 (speed) failed: pump-1.speed did not answer within 5000 ms");
        assertThat(v.events()).filteredOn(e -> e.kind().equals("neutral")).hasSize(2);
        assertThat(v.events().get(0).error()).as("the neutral speed call fails too, and is recorded").isPresent();
        assertThat(power(false)).as("the neutral power call still runs").hasSize(1);
        assertThat(metrics.get("junction.jobs.finished").tag("outcome", "failed").counter().count()).isEqualTo(1);
    }

    @Test
    void startingRefusesUnknownModulesJobsBadArgumentsAndForbiddenFunctions() {
        Jobs jobs = open();
        assertThat(failure(jobs.startJob(ALICE, "pump-9", "water", null))).isInstanceOf(JobException.class)
                .hasMessage("there is no module 'pump-9'");
        JobException unknown = (JobException) failure(jobs.startJob(ALICE, "pump-1", "drain", null));
        assertThat(unknown.kind()).isEqualTo(JobException.Kind.NOT_FOUND);
        assertThat(unknown).hasMessage("module pump-1 (driver garden-pump) offers no job 'drain'; it offers boost, flush, water");
        JobException bad = (JobException) failure(jobs.startJob(ALICE, "pump-1", "boost", args("{\"hold\": \"soon\", \"x\": 1}")));
        assertThat(bad.kind()).isEqualTo(JobException.Kind.BAD_REQUEST);
        assertThat(bad.getMessage()).isEqualTo("job boost on module pump-1: missing argument level (Int32); unknown argument x "
                + "(job boost takes level: Int32, hold: Duration = \"2m\"); argument hold must be " + Durations.EXPECTED
                + ", got \"soon\" (string)");
        JobException forbidden = (JobException) failure(jobs.startJob(ALICE, "pump-1", "flush", null));
        assertThat(forbidden.kind()).isEqualTo(JobException.Kind.FORBIDDEN);
        assertThat(forbidden).hasMessage("job flush calls pump-1.purge, which needs the role support; user 'alice' has user");
        assertThat(join(jobs.startJob(new Principal("sam", Role.SUPPORT), "pump-1", "flush", null)).state()).isEqualTo(JobState.RUNNING);
        await().atMost(10, TimeUnit.SECONDS).until(() -> modules.calls(c -> c.function().equals("purge")).size() == 1);
    }

    @Test
    void aDriversOwnJobsAreOfferedAndAConfigJobReplacesOneOfTheSameName() throws IOException {
        drivers.put(new PumpDriver(List.of(
                (ObjectNode) Json.parse("{\"name\": \"pulse\", \"steps\": [{\"call\": \"power\", \"args\": {\"state\": true}}], \"neutral\": []}"),
                (ObjectNode) Json.parse("{\"name\": \"water\", \"steps\": [{\"call\": \"power\", \"args\": {\"state\": true}}], \"neutral\": []}"),
                (ObjectNode) Json.parse("{\"name\": \"broken\", \"steps\": [{\"call\": \"explode\"}], \"neutral\": []}"))));
        Jobs jobs = open();
        assertThat(jobs.definitions("pump-1")).extracting(JobDefinition::name).containsExactly("boost", "flush", "pulse", "water");
        assertThat(jobs.definitions("pump-1")).filteredOn(d -> d.name().equals("water")).singleElement()
                .satisfies(d -> assertThat(d.where()).isEqualTo("junction.toml:12"));
        assertThat(jobs.problems(PumpDriver.ID)).singleElement().asString()
                .startsWith("driver garden-pump (built-in), job 3: job 'broken': it calls explode, which driver garden-pump does not have");
        JobView pulse = join(jobs.startJob(ALICE, "pump-1", "pulse", null));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(jobs, pulse.id()).state() == JobState.DONE);
    }

    @Test
    void finishedJobsAreKeptForABoundedNumberAcrossRestarts() throws IOException {
        Jobs first = Jobs.builder(dir, modules, drivers).configJobs(List.of(def(WATER, "junction.toml:12")))
                .clock(clock).metrics(metrics).tick(Duration.ofMillis(5)).keepFinished(3).compactBytes(1).build().start();
        opened.add(first);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String id = join(first.startJob(ALICE, "pump-1", "water", args("{\"duration\": \"1s\"}"))).id();
            ids.add(id);
            clock.advance(Duration.ofSeconds(1));
            await().atMost(10, TimeUnit.SECONDS).until(() -> view(first, id).state() == JobState.DONE);
        }
        String running = join(first.startJob(ALICE, "pump-2", "water", args("{\"duration\": \"1h\"}"))).id();
        assertThat(join(first.list(Optional.empty(), Optional.empty(), 100))).extracting(JobView::id)
                .containsExactly(running, ids.get(5), ids.get(4), ids.get(3));
        first.close();

        Jobs second = Jobs.builder(dir, modules, drivers).configJobs(List.of(def(WATER, "junction.toml:12")))
                .clock(clock).metrics(new SimpleMeterRegistry()).tick(Duration.ofMillis(5)).keepFinished(3).build().start();
        opened.add(second);
        assertThat(join(second.list(Optional.empty(), Optional.empty(), 100))).extracting(JobView::id)
                .containsExactly(running, ids.get(5), ids.get(4), ids.get(3));
        assertThat(join(second.list(Optional.of(JobState.RUNNING), Optional.empty(), 100))).extracting(JobView::id)
                .containsExactly(running);
        List<String> lines = Files.readAllLines(dir.resolve(Journal.FILE));
        assertThat(lines).as("the journal was compacted to the jobs kept").filteredOn(l -> l.contains("{\"t\":\"job\"")).hasSize(4);
        assertThat(lines).noneMatch(l -> l.contains(ids.get(0)) || l.contains(ids.get(1)) || l.contains(ids.get(2)));
    }

    @Test
    void stepsThatFellDueWhileTheServerWasDownRunAtOnceWithoutAReapply() {
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "boost", args("{\"level\": 5}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        clock.advance(Duration.ofSeconds(30));
        first.halt();

        clock.set(T0.plus(Duration.ofMinutes(2)));
        Jobs second = open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> modules.calls(c -> c.function().equals("speed")).size() == 1);
        assertThat(modules.calls(c -> c.function().equals("speed")).getFirst().at()).isEqualTo(T0.plus(Duration.ofMinutes(2)));
        assertThat(power(true)).as("the overdue step sets the state; the older one is not re-applied").hasSize(1);
        JobView v = view(second, id);
        assertThat(v.events()).extracting(TraceEvent::kind).containsExactly("restart");
        assertThat(v.events().getFirst().detail()).contains("those already due run now");
        assertThat(v.steps().get(2).due()).isEqualTo(T0.plus(Duration.ofMinutes(1)));

        clock.set(T0.plus(Duration.ofMinutes(3)));
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.DONE);
    }

    @Test
    void aCleanShutdownLetsACallInFlightAnswerBeforeTheNeutralCalls() {
        modules.answer = c -> c.is("power", "state", true)
                ? CompletableFuture.supplyAsync(() -> Json.object().put("ok", "later"),
                        CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS))
                : CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        first.close();
        assertThat(modules.all()).extracting(FakeModules.Call::function).containsExactly("power", "power");
        assertThat(power(false)).hasSize(1);

        modules.answer = c -> CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs second = open();
        JobView v = view(second, id);
        assertThat(v.steps().getFirst().status()).as("the answer was recorded before the server stopped").isEqualTo(StepStatus.DONE);
        assertThat(v.steps().getFirst().result().orElseThrow().get("ok").asText()).isEqualTo("later");
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 2);
    }

    @Test
    void aShutdownStopsWaitingForACallInFlightWhenTheClockPassesItsDrainDeadline() throws Exception {
        modules.answer = c -> c.is("power", "state", true) ? new CompletableFuture<>()
                : CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);

        CompletableFuture<Void> closed = CompletableFuture.runAsync(first::close);
        await().during(Duration.ofMillis(200)).atMost(2, TimeUnit.SECONDS)
                .until(() -> !closed.isDone() && power(false).isEmpty());
        clock.advance(Duration.ofMillis(2_500)); // half the stop timeout: the time for calls in flight is over
        closed.get(20, TimeUnit.SECONDS);
        assertThat(power(false)).as("the neutral call ran although the step never answered").singleElement()
                .satisfies(c -> assertThat(c.at()).isEqualTo(T0.plus(Duration.ofMillis(2_500))));

        modules.answer = c -> CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs second = open();
        JobView v = view(second, id);
        assertThat(v.state()).isEqualTo(JobState.RUNNING);
        assertThat(v.steps().getFirst().status()).as("it began and never answered: not run again").isEqualTo(StepStatus.INTERRUPTED);
        assertThat(v.events()).extracting(TraceEvent::kind).containsExactly("shutdown", "neutral", "restart", "reapply-skipped");
    }

    @Test
    void aJobThatWasStoppingWhenTheServerCrashedFinishesStoppingOnRestart() {
        modules.answer = c -> c.is("power", "state", false) ? new CompletableFuture<>()
                : CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        CompletableFuture<JobView> cancelling = first.cancel(ALICE, id);
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(false).size() == 1);
        assertThat(view(first, id).state()).isEqualTo(JobState.STOPPING);
        first.halt();
        assertThat(cancelling).isNotDone();

        modules.answer = c -> CompletableFuture.completedFuture(Json.object().put("ok", true));
        Jobs second = open();
        await().atMost(10, TimeUnit.SECONDS).until(() -> view(second, id).state() == JobState.CANCELLED);
        assertThat(power(false)).as("the neutral call runs again").hasSize(2);
        assertThat(power(true)).as("a stopping job is not resumed").hasSize(1);
        JobView v = view(second, id);
        assertThat(v.reason()).isEqualTo("cancelled by alice");
        assertThat(v.events()).extracting(TraceEvent::kind).containsExactly("restart", "neutral");
    }

    @Test
    void aJobWhoseModuleWasDeletedWhileTheServerWasDownEnds() {
        Jobs first = open();
        String id = join(first.startJob(ALICE, "pump-1", "water", args("{}"))).id();
        await().atMost(10, TimeUnit.SECONDS).until(() -> power(true).size() == 1);
        first.halt();
        modules.stop("pump-1");

        Jobs second = open();
        JobView v = view(second, id);
        assertThat(v.state()).isEqualTo(JobState.MODULE_STOPPED);
        assertThat(v.reason()).isEqualTo("module pump-1 no longer exists");
        assertThat(modules.all()).hasSize(1);
    }

    @Test
    void tenThousandRunningJobsAreRecoveredFromTheJournal() {
        Jobs first = open();
        int n = 10_000;
        List<CompletableFuture<JobView>> starts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            starts.add(first.startJob(ALICE, i % 2 == 0 ? "pump-1" : "pump-2", "water", args("{\"duration\": \"1h\"}")));
        }
        Set<String> ids = new HashSet<>();
        for (CompletableFuture<JobView> f : starts) {
            ids.add(join(f).id());
        }
        assertThat(ids).hasSize(n);
        await().atMost(60, TimeUnit.SECONDS).until(() -> power(true).size() == n);
        first.halt();

        clock.advance(Duration.ofMinutes(10));
        long reopening = System.nanoTime();
        Jobs second = open();
        System.out.printf("10,000 jobs: read, compacted and recovered in %d ms%n", (System.nanoTime() - reopening) / 1_000_000);
        await().atMost(60, TimeUnit.SECONDS).until(() -> power(true).size() == 2 * n);
        List<JobView> running = join(second.list(Optional.of(JobState.RUNNING), Optional.empty(), n));
        assertThat(running).extracting(JobView::id).containsExactlyInAnyOrderElementsOf(ids);
        await().atMost(60, TimeUnit.SECONDS).until(() -> join(second.list(Optional.of(JobState.RUNNING), Optional.empty(), n))
                .stream().allMatch(v -> v.events().stream().anyMatch(e -> e.kind().equals("reapply"))));
        assertThat(power(true).subList(n, 2 * n)).allSatisfy(c -> assertThat(c.at()).isEqualTo(T0.plus(Duration.ofMinutes(10))));

        clock.set(T0.plus(Duration.ofHours(1)));
        await().atMost(60, TimeUnit.SECONDS).until(() -> power(false).size() == n);
        await().atMost(60, TimeUnit.SECONDS).until(() -> metrics.get("junction.jobs.running").gauge().value() == 0);
        assertThat(power(false)).allSatisfy(c -> assertThat(c.at()).isEqualTo(T0.plus(Duration.ofHours(1))));
    }

    static JsonNode json(String text) {
        try {
            return Json.parse(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
