package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Ids;
import io.junction.core.actor.Actor;
import io.junction.core.actor.Request;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.config.ConfigException;
import io.junction.devices.DevicesSettings.Definition;
import io.junction.core.http.RouteTable;
import io.junction.devices.ModuleCalls;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverMetadata;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.FunctionSpec;
import io.junction.devices.jobs.JobCommand.Begun;
import io.junction.devices.jobs.JobCommand.Cancel;
import io.junction.devices.jobs.JobCommand.Create;
import io.junction.devices.jobs.JobCommand.DrainOver;
import io.junction.devices.jobs.JobCommand.Find;
import io.junction.devices.jobs.JobCommand.Get;
import io.junction.devices.jobs.JobCommand.ModuleStopping;
import io.junction.devices.jobs.JobCommand.NeutralAnswered;
import io.junction.devices.jobs.JobCommand.NeutralOver;
import io.junction.devices.jobs.JobCommand.Query;
import io.junction.devices.jobs.JobCommand.Reapplied;
import io.junction.devices.jobs.JobCommand.Recorded;
import io.junction.devices.jobs.JobCommand.Recover;
import io.junction.devices.jobs.JobCommand.Shutdown;
import io.junction.devices.jobs.JobCommand.StepAnswered;
import io.junction.devices.jobs.JobCommand.StepDue;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job manager: starts jobs on modules, runs their steps at their due times as the caller who started them, and
 * brings them back after a restart so that each finishes when it would have finished.
 *
 * <p>Durability: a job's start record (definition, module, arguments, caller, the due time of every step) is on disk
 * before its first step runs; each call step is recorded as begun (on disk) before it is called, and as done after.
 * After a restart, clean or not, a step recorded as begun is never called again. A job whose deadline has not passed
 * re-applies its current step (the last call that began and answered: the pump goes on again), recorded as a
 * re-apply in its trace, and runs the rest at the original due times; a job whose deadline passed while the server
 * was down ends at once with its neutral calls. {@link #close()} finishes the calls in flight, runs every running
 * job's neutral calls (the device is left safe while the server is down) and keeps the job resumable.
 *
 * <p>One actor on the runtime ({@link Actor}, commands in {@link JobCommand}): public methods only check their input and
 * enqueue commands; every job's state is touched on the actor's thread only. Every timer is the runtime's, on the
 * injected clock: a job's next step or deadline ({@link StepDue}, one per job, no thread per job), and the shutdown's
 * deadlines ({@link DrainOver}, {@link NeutralOver}). What happens elsewhere (a journal record durable, a call
 * answered) comes back as a command too; see {@link #answer}.
 */
public final class Jobs implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Jobs.class);
    private static final int MAILBOX = 16_384;

    private enum Phase { RUNNING, DRAINING, NEUTRAL, DONE }

    private final Path dir;
    private final ModuleCalls modules;
    private final DriverCatalog drivers;
    private final JobDefinitions definitions;
    private final Clock clock;
    private final int keepFinished;
    private final long callTimeoutMillis;
    private final long stopTimeoutMillis;
    private final Duration tick;
    private final long compactBytes;
    private final MeterRegistry metrics;

    private final Counter startedCount;
    /** Where job starts and ends are published; empty in tests without a hub. */
    private final Optional<io.junction.core.hub.EventHub> hub;
    private final Map<JobState, Counter> finishedCount = new EnumMap<>(JobState.class);
    private final Timer lateness;
    /** Jobs running or stopping; read by the gauge from any thread. */
    private final AtomicInteger active = new AtomicInteger();

    // the actor's state: touched only on its thread once it runs
    /** Every job kept, in the order they started. */
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    /** Ended jobs, oldest end first, to forget the oldest beyond {@link #keepFinished}. */
    private final ArrayDeque<String> endedOrder = new ArrayDeque<>();
    private Phase phase = Phase.RUNNING;
    /** The shutdown's time for calls in flight, and then for neutral calls, has run out. */
    private boolean drainOver;
    private boolean neutralOver;
    private int shutdownNeutrals;
    private CompletableFuture<Void> shutdownReply;

    /** Set once by {@link #start()}, before {@link #accepting} (which publishes them). */
    private Journal journal;
    private Actor<JobCommand> actor;
    private volatile boolean accepting;
    private volatile boolean started;
    private volatile boolean closing;
    private volatile boolean halted;

    /**
     * A job manager with the usual limits (see {@link Builder}). Checks the {@code [[jobs]]} sections now and throws
     * {@link ConfigException} naming the first wrong one; {@link #start()} reads the journal.
     *
     * @param dir        the folder of the journal ({@code <dir>/jobs.log})
     * @param configJobs the {@code [[jobs]]} sections of the config
     */
    public Jobs(Path dir, ModuleCalls modules, DriverCatalog drivers, List<Definition> configJobs, Clock clock,
                MeterRegistry metrics) {
        this(builder(dir, modules, drivers).configJobs(configJobs).clock(clock).metrics(metrics));
    }

    private Jobs(Builder b) {
        this.dir = Objects.requireNonNull(b.dir, "dir");
        this.modules = Objects.requireNonNull(b.modules, "modules");
        this.drivers = Objects.requireNonNull(b.drivers, "drivers");
        this.clock = Objects.requireNonNull(b.clock, "clock");
        this.metrics = Objects.requireNonNull(b.metrics, "metrics");
        this.hub = Optional.ofNullable(b.hub);
        this.keepFinished = b.keepFinished;
        this.callTimeoutMillis = b.callTimeout.toMillis();
        this.stopTimeoutMillis = b.stopTimeout.toMillis();
        this.tick = b.tick;
        this.compactBytes = b.compactBytes;
        this.definitions = new JobDefinitions(b.configJobs, drivers);
        this.startedCount = Counter.builder("junction.jobs.started").description("jobs started").register(metrics);
        for (JobState s : JobState.values()) {
            if (s.ended()) {
                finishedCount.put(s, Counter.builder("junction.jobs.finished").tag("outcome", s.word())
                        .description("jobs that ended, by how").register(metrics));
            }
        }
        this.lateness = Timer.builder("junction.jobs.step.lateness")
                .description("how long after its due time a job's step began").register(metrics);
        Gauge.builder("junction.jobs.running", active, AtomicInteger::get).description("jobs running or stopping").register(metrics);
    }

    public static Builder builder(Path dir, ModuleCalls modules, DriverCatalog drivers) {
        return new Builder(dir, modules, drivers);
    }

    /**
     * Reads the journal, compacts it, and brings back every job that was running: the actor starts and, before this
     * returns, has re-applied or ended each as its due times say (re-applies answer later). Throws
     * {@link UncheckedIOException} when the journal folder cannot be read or written.
     */
    public Jobs start() {
        if (started) {
            throw new IllegalStateException("jobs already started");
        }
        started = true;
        long t0 = System.nanoTime();
        Journal.Contents contents;
        try {
            contents = Journal.read(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the jobs journal in " + dir + ": " + e.getMessage(), e);
        }
        long t1 = System.nanoTime();
        load(contents.records());
        long t2 = System.nanoTime();
        try {
            journal = Journal.open(dir, snapshots(), compactBytes, metrics);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the jobs journal in " + dir + ": " + e.getMessage(), e);
        }
        long t3 = System.nanoTime();
        definitions.checkLoaded();
        actor = Actor.start("jobs", MAILBOX, clock, tick, this::handle);
        modules.onStopping(this::moduleStopping);
        accepting = true;
        try {
            actor.ask(Recover::new).get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            log.error("jobs: recovery failed: {}", e.getCause().toString(), e.getCause());
        } catch (TimeoutException e) {
            log.warn("jobs: recovery did not finish within 60 s; it goes on in the background");
        }
        long t4 = System.nanoTime();
        log.info("jobs started: journal read in {} ms, jobs rebuilt in {} ms, compacted in {} ms, recovered in {} ms",
                (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000, (t4 - t3) / 1_000_000);
        return this;
    }

    /** Registers the {@code /api/jobs} routes (see {@link JobRoutes}). */
    public void register(RouteTable routes) {
        new JobRoutes(this).register(routes);
    }

    // --- the public surface: checks, then commands

    /**
     * Starts job {@code job} on module {@code module} with {@code args} (a JSON object by parameter name; null for
     * none), its steps running as {@code caller}. Completes with the job once its start is durable; fails with a
     * {@link JobException}: NOT_FOUND for an unknown module or job, BAD_REQUEST for wrong arguments, FORBIDDEN when
     * the caller may not call one of its functions, CONFLICT when the definition does not fit the driver loaded now.
     */
    public CompletableFuture<JobView> startJob(Principal caller, String module, String job, JsonNode args) {
        try {
            Objects.requireNonNull(caller, "caller");
            if (module == null || module.isBlank()) {
                throw new JobException(JobException.Kind.BAD_REQUEST, "module must be the id of a module, as in \"pump-1\"");
            }
            if (job == null || job.isBlank()) {
                throw new JobException(JobException.Kind.BAD_REQUEST, "job must be the name of a job the module offers, as in \"water\"");
            }
            String driver = modules.driverOf(module).orElseThrow(() -> new JobException(JobException.Kind.NOT_FOUND,
                    "there is no module '" + module + "'"));
            JobDefinition def = definitions.find(driver, job).orElseThrow(() -> new JobException(JobException.Kind.NOT_FOUND,
                    "module " + module + " (driver " + driver + ") offers no job '" + job + "'; it offers "
                            + names(definitions.offeredBy(driver))));
            DriverMetadata md = drivers.get(driver).map(DriverType::metadata).orElseThrow(() -> new JobException(
                    JobException.Kind.CONFLICT, "driver " + driver + " of module " + module + " is not loaded, so its jobs cannot run"));
            List<String> problems = def.problems(md);
            if (!problems.isEmpty()) {
                throw new JobException(JobException.Kind.CONFLICT, "job " + job + " (defined at " + def.where()
                        + ") does not fit driver " + driver + " as it is loaded now: " + String.join("; ", problems));
            }
            for (JobDefinition.Step s : def.steps()) {
                if (s instanceof JobDefinition.Call c) {
                    FunctionSpec f = md.function(c.function()).orElseThrow();
                    if (!caller.may(f.role())) {
                        throw new JobException(JobException.Kind.FORBIDDEN, "job " + job + " calls " + module + "." + f.name()
                                + ", which needs the role " + f.role().id() + "; user '" + caller.user() + "' has " + caller.role().id());
                    }
                }
            }
            ObjectNode values;
            try {
                values = def.bind(args);
            } catch (IllegalArgumentException e) {
                throw new JobException(JobException.Kind.BAD_REQUEST, "job " + job + " on module " + module + ": " + e.getMessage());
            }
            return ask(reply -> new Create(def, module, driver, values, caller, reply));
        } catch (JobException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Cancels a job: its neutral calls run and it ends {@code cancelled}. Completes with the job once it has ended;
     * fails NOT_FOUND, CONFLICT (it has already ended) or FORBIDDEN (only its caller, support and administrators may).
     */
    public CompletableFuture<JobView> cancel(Principal by, String id) {
        return ask(reply -> new Cancel(id, by, reply));
    }

    /** The job with id {@code id}, with its trace; empty when it is not known (or long forgotten). */
    public CompletableFuture<Optional<JobView>> get(String id) {
        return ask(reply -> new Get(id, reply));
    }

    /** Jobs running and recent, newest first: of {@code state} and {@code module} when given, at most {@code limit}. */
    public CompletableFuture<List<JobView>> list(Optional<JobState> state, Optional<String> module, int limit) {
        return ask(reply -> new Find(new Query(state, module, limit), reply));
    }

    /** The jobs module {@code module} offers; NOT_FOUND when there is no such module. */
    public List<JobDefinition> definitions(String module) {
        String driver = modules.driverOf(module).orElseThrow(() -> new JobException(JobException.Kind.NOT_FOUND,
                "there is no module '" + module + "'"));
        return definitions.offeredBy(driver);
    }

    /** Every job any driver offers, by driver id. */
    public Map<String, List<JobDefinition>> definitions() {
        Map<String, List<JobDefinition>> all = new LinkedHashMap<>();
        for (String d : definitions.driverIds()) {
            all.put(d, definitions.offeredBy(d));
        }
        return all;
    }

    /** What is wrong with the jobs driver {@code driverId} declares (those are not offered); empty when nothing is. */
    public List<String> problems(String driverId) {
        return definitions.problems(driverId);
    }

    /** The driver of a module, when there is such a module. */
    Optional<String> driverOf(String module) {
        return modules.driverOf(module);
    }

    private void moduleStopping(String module) {
        if (!accepting) {
            return; // shutting down: jobs stay resumable; close() ran their neutral calls
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            actor.send(new ModuleStopping(module, done)); // the module waits for this listener anyway
            done.get(stopTimeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("jobs of module {} did not reach their neutral state within {} ms", module, stopTimeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            log.warn("jobs of module {} could not be stopped: {}", module, e.getCause().toString());
        }
    }

    /**
     * Enqueues a request without waiting: a full mailbox or a closed actor fails the reply at once (the runtime's
     * {@link io.junction.core.actor.ActorException}), and so does a job manager that does not take requests now.
     */
    private <R> CompletableFuture<R> ask(Function<CompletableFuture<R>, JobCommand> request) {
        if (!accepting) {
            return CompletableFuture.failedFuture(new JobException(JobException.Kind.UNAVAILABLE, started
                    ? "the job manager is shutting down" : "the job manager has not started"));
        }
        return actor.ask(request);
    }

    /**
     * Hands the actor what happened elsewhere (a record durable, a call answered) as a timer that is due at once.
     * The runtime never refuses a due timer, so an answer is never lost to a full mailbox, and the thread it comes
     * from (the journal's writer, a module's actor) never waits. Each answer is its own tag; a running job has at
     * most a record being written and a call on its way, so these timers are bounded by the jobs kept.
     */
    private void answer(JobCommand c) {
        actor.schedule(Instant.EPOCH, new Object(), c);
    }

    /** {@code j}'s one timer: its next step, or its deadline, is due at {@code at} (epoch ms). */
    private void scheduleDue(Job j, long at) {
        StepDue due = new StepDue(j.id);
        actor.schedule(Instant.ofEpochMilli(at), due, due);
    }

    private void cancelDue(Job j) {
        actor.cancel(new StepDue(j.id));
    }

    // --- the handler: one command at a time on the actor's thread

    private void handle(JobCommand c) {
        if (phase == Phase.DONE) {
            refuseAfterShutdown(c);
            return;
        }
        try {
            switch (c) {
                case Recover m -> {
                    recover();
                    m.reply().complete(null);
                }
                case Create m -> create(m);
                case Recorded m -> recorded(m);
                case Begun m -> begun(m);
                case StepAnswered m -> stepAnswered(m);
                case Reapplied m -> reapplied(m);
                case NeutralAnswered m -> neutralAnswered(m);
                case StepDue m -> {
                    Job j = jobs.get(m.id());
                    if (j != null) {
                        advance(j);
                    }
                }
                case Cancel m -> cancel(m);
                case ModuleStopping m -> moduleStopping(m);
                case Get m -> m.reply().complete(Optional.ofNullable(jobs.get(m.id())).map(j -> j.view(clock.millis())));
                case Find m -> m.reply().complete(find(m.query()));
                case Shutdown m -> shutdown(m);
                case DrainOver m -> drainOver = true;
                case NeutralOver m -> neutralOver = true;
            }
        } finally {
            if (phase == Phase.RUNNING) {
                if (journal.wantsCompaction()) {
                    journal.compact(snapshots());
                }
            } else {
                checkShutdown();
            }
        }
    }

    /** After the shutdown finished: requests are refused, answers and timers dropped (the jobs resume on restart). */
    private static void refuseAfterShutdown(JobCommand c) {
        if (c instanceof ModuleStopping m) {
            m.reply().complete(null);
        } else if (c instanceof Shutdown m) {
            m.reply().complete(null);
        } else if (c instanceof Request<?> r) {
            r.reply().completeExceptionally(new JobException(JobException.Kind.UNAVAILABLE, "the job manager has shut down"));
        }
    }

    private void create(Create m) {
        if (phase != Phase.RUNNING) {
            m.reply().completeExceptionally(new JobException(JobException.Kind.UNAVAILABLE, "the job manager is shutting down"));
            return;
        }
        long now = clock.millis();
        Job j = Job.create(Ids.next(now), m.definition(), m.module(), m.driver(), m.values(), m.caller(), now);
        j.startReply = m.reply();
        jobs.put(j.id, j);
        active.incrementAndGet();
        journal.append(j.snapshot()).whenComplete((v, e) -> answer(new Recorded(j.id, Optional.ofNullable(e))));
    }

    private void recorded(Recorded m) {
        Job j = jobs.get(m.id());
        if (j == null) {
            return;
        }
        CompletableFuture<JobView> reply = j.startReply;
        j.startReply = null;
        if (m.error().isPresent()) {
            jobs.remove(j.id);
            if (!j.state.ended()) {
                active.decrementAndGet();
            }
            cancelDue(j);
            reply.completeExceptionally(new JobException(JobException.Kind.UNAVAILABLE, "job " + j.definition.name()
                    + " was not started: it could not be recorded in " + journal.file() + ": " + message(m.error().get())));
            return;
        }
        j.recorded = true;
        startedCount.increment();
        hub.ifPresent(h -> h.publish(new io.junction.devices.DevicesEvent("job", j.id, j.definition.name(), j.module, "started",
                "by " + j.caller.user())));
        log.info("job started id={} job={} module={} caller={} deadline={}", j.id, j.definition.name(), j.module,
                j.caller.user(), Instant.ofEpochMilli(j.deadline()));
        reply.complete(j.view(clock.millis()));
        advance(j);
    }

    /** Runs what is due of a running job and schedules the rest. */
    private void advance(Job j) {
        if (j.state != JobState.RUNNING || !j.recorded || j.inFlight || j.reapplying || phase != Phase.RUNNING) {
            return;
        }
        long now = clock.millis();
        while (true) {
            if (j.next >= j.steps()) {
                if (now >= j.deadline()) {
                    finish(j);
                } else {
                    scheduleDue(j, j.deadline());
                }
                return;
            }
            if (j.due[j.next] > now) {
                scheduleDue(j, j.due[j.next]);
                return;
            }
            if (!j.isCall(j.next)) {
                j.next++;
                continue;
            }
            begin(j, j.next, now);
            return;
        }
    }

    private void begin(Job j, int step, long now) {
        j.status[step] = StepStatus.RUNNING;
        j.began[step] = now;
        j.inFlight = true;
        lateness.record(Math.max(0, now - j.due[step]), TimeUnit.MILLISECONDS);
        journal.append(Job.begunRecord(j.id, step, now))
                .whenComplete((v, e) -> answer(new Begun(j.id, step, Optional.ofNullable(e))));
    }

    private void begun(Begun m) {
        Job j = jobs.get(m.id());
        if (j == null || !j.inFlight) {
            return;
        }
        int step = m.step();
        if (m.error().isPresent() || j.state != JobState.RUNNING) {
            j.inFlight = false;
            j.finished[step] = clock.millis();
            j.status[step] = StepStatus.SKIPPED;
            if (m.error().isPresent()) {
                j.errors[step] = "not run: it could not be recorded as begun: " + message(m.error().get());
                stop(j, JobState.FAILED, j.name(step) + " was not run: the journal could not record it");
            } else {
                j.errors[step] = "not run: the job was stopping (" + j.target.word() + ")";
                journal.append(j.doneRecord(step));
            }
            neutralIfIdle(j);
            return;
        }
        JobDefinition.Call c = j.call(step);
        call(j.caller, j.module, c.function(), JobDefinition.resolve(c.template(), j.values)).whenComplete((r, e) ->
                answer(new StepAnswered(j.id, step, e == null ? Optional.of(orNull(r)) : Optional.empty(), Optional.ofNullable(e))));
    }

    private void stepAnswered(StepAnswered m) {
        Job j = jobs.get(m.id());
        if (j == null || !j.inFlight) {
            return;
        }
        int step = m.step();
        j.inFlight = false;
        j.finished[step] = clock.millis();
        if (m.error().isPresent()) {
            j.status[step] = StepStatus.FAILED;
            j.errors[step] = message(m.error().get());
        } else {
            j.status[step] = StepStatus.DONE;
            j.results[step] = m.result().orElse(NullNode.getInstance());
        }
        journal.append(j.doneRecord(step));
        if (j.state == JobState.RUNNING) {
            if (m.error().isPresent()) {
                log.warn("job id={} job={} module={}: {} failed: {}", j.id, j.definition.name(), j.module, j.name(step), j.errors[step]);
                stop(j, JobState.FAILED, j.name(step) + " failed: " + j.errors[step]);
            } else {
                j.next = step + 1;
                advance(j);
            }
        } else {
            neutralIfIdle(j);
        }
    }

    private void reapply(Job j, int step) {
        j.reapplying = true;
        JobDefinition.Call c = j.call(step);
        call(j.caller, j.module, c.function(), JobDefinition.resolve(c.template(), j.values)).whenComplete((r, e) ->
                answer(new Reapplied(j.id, step, e == null ? Optional.of(orNull(r)) : Optional.empty(), Optional.ofNullable(e))));
    }

    private void reapplied(Reapplied m) {
        Job j = jobs.get(m.id());
        if (j == null || !j.reapplying) {
            return;
        }
        j.reapplying = false;
        int step = m.step();
        String error = m.error().map(Jobs::message).orElse(null);
        event(j, new TraceEvent(Instant.ofEpochMilli(clock.millis()), "reapply", "re-applied " + j.name(step)
                + " after a restart, to bring the device back to the state the job had it in (not a new step run)",
                OptionalInt.of(step), Optional.of(j.call(step).function()), m.result(), Optional.ofNullable(error)));
        if (j.state == JobState.RUNNING) {
            if (error != null) {
                stop(j, JobState.FAILED, "re-applying " + j.name(step) + " after a restart failed: " + error);
            } else {
                advance(j);
            }
        } else {
            neutralIfIdle(j);
        }
    }

    /** Ends a running job with its neutral calls, as {@code target}, once no call of it is on its way. */
    private void stop(Job j, JobState target, String reason) {
        if (j.state != JobState.RUNNING) {
            return;
        }
        j.state = JobState.STOPPING;
        j.target = target;
        j.reason = reason;
        cancelDue(j);
        journal.append(j.stoppingRecord(clock.millis()));
        log.info("job stopping id={} job={} module={} as={} reason={}", j.id, j.definition.name(), j.module, target.word(), reason);
        neutralIfIdle(j);
    }

    private void neutralIfIdle(Job j) {
        if (j.state == JobState.STOPPING && !j.inFlight && !j.reapplying && j.neutralAt < 0) {
            neutral(j, 0);
        }
    }

    private void neutral(Job j, int index) {
        List<JobDefinition.Call> calls = j.definition.neutral();
        if (index >= calls.size()) {
            neutralFinished(j);
            return;
        }
        j.neutralAt = index;
        JobDefinition.Call c = calls.get(index);
        // neutral calls make the device safe whoever started the job, so they run as the engine itself
        call(Principal.SYSTEM, j.module, c.function(), JobDefinition.resolve(c.template(), j.values)).whenComplete((r, e) ->
                answer(new NeutralAnswered(j.id, index, e == null ? Optional.of(orNull(r)) : Optional.empty(), Optional.ofNullable(e))));
    }

    private void neutralAnswered(NeutralAnswered m) {
        Job j = jobs.get(m.id());
        if (j == null || j.neutralAt != m.index()) {
            return;
        }
        List<JobDefinition.Call> calls = j.definition.neutral();
        String why = j.state == JobState.STOPPING ? j.target.word() : "server shutting down";
        String error = m.error().map(Jobs::message).orElse(null);
        if (error != null) {
            log.warn("job id={} module={}: neutral call {} failed: {}", j.id, j.module, calls.get(m.index()).function(), error);
        }
        event(j, new TraceEvent(Instant.ofEpochMilli(clock.millis()), "neutral", "neutral call " + (m.index() + 1) + " of "
                + calls.size() + " (" + why + ")", OptionalInt.empty(), Optional.of(calls.get(m.index()).function()),
                m.result(), Optional.ofNullable(error)));
        neutral(j, m.index() + 1);
    }

    private void neutralFinished(Job j) {
        j.neutralAt = -1;
        if (j.shutdownNeutral) {
            j.shutdownNeutral = false;
            shutdownNeutrals--;
        }
        if (j.state == JobState.STOPPING) {
            end(j);
        }
    }

    /** A running job that ran every step ends done. */
    private void finish(Job j) {
        j.state = JobState.STOPPING;
        j.target = JobState.DONE;
        j.reason = "every step ran";
        end(j);
    }

    private void end(Job j) {
        long now = clock.millis();
        j.state = j.target;
        j.ended = now;
        cancelDue(j);
        active.decrementAndGet();
        finishedCount.get(j.state).increment();
        CompletableFuture<Void> durable = journal.append(j.endRecord());
        JobView view = j.view(now);
        List<CompletableFuture<JobView>> waiters = j.endWaiters;
        j.endWaiters = new ArrayList<>();
        if (!waiters.isEmpty()) {
            durable.whenComplete((v, e) -> {
                for (CompletableFuture<JobView> w : waiters) {
                    if (e == null) {
                        w.complete(view);
                    } else {
                        w.completeExceptionally(new JobException(JobException.Kind.UNAVAILABLE,
                                "job " + j.id + " ended, but its end could not be recorded: " + message(e)));
                    }
                }
            });
        }
        hub.ifPresent(h -> h.publish(new io.junction.devices.DevicesEvent("job", j.id, j.definition.name(), j.module, j.state.word(),
                j.reason == null ? "" : j.reason)));
        log.info("job ended id={} job={} module={} state={} reason={}", j.id, j.definition.name(), j.module, j.state.word(), j.reason);
        endedOrder.addLast(j.id);
        while (endedOrder.size() > keepFinished) {
            String old = endedOrder.pollFirst();
            Job o = jobs.get(old);
            if (o != null && o.state.ended()) {
                jobs.remove(old);
            }
        }
    }

    private void cancel(Cancel m) {
        Job j = jobs.get(m.id());
        if (j == null) {
            m.reply().completeExceptionally(new JobException(JobException.Kind.NOT_FOUND, "there is no job '" + m.id()
                    + "' (ended jobs are kept for the last " + keepFinished + ")"));
            return;
        }
        if (!m.by().may(Role.SUPPORT) && !m.by().user().equals(j.caller.user())) {
            m.reply().completeExceptionally(new JobException(JobException.Kind.FORBIDDEN, "job " + j.id + " was started by '"
                    + j.caller.user() + "'; only they, support and administrators may cancel it"));
            return;
        }
        if (j.state.ended()) {
            m.reply().completeExceptionally(new JobException(JobException.Kind.CONFLICT, "job " + j.id + " has already ended ("
                    + j.state.word() + " at " + Instant.ofEpochMilli(j.ended) + ")"));
            return;
        }
        j.endWaiters.add(m.reply());
        stop(j, JobState.CANCELLED, "cancelled by " + m.by().user());
    }

    private void moduleStopping(ModuleStopping m) {
        if (phase != Phase.RUNNING) {
            m.reply().complete(null);
            return;
        }
        List<CompletableFuture<JobView>> waits = new ArrayList<>();
        for (Job j : List.copyOf(jobs.values())) {
            if (j.module.equals(m.module()) && !j.state.ended()) {
                CompletableFuture<JobView> w = new CompletableFuture<>();
                j.endWaiters.add(w);
                waits.add(w);
                stop(j, JobState.MODULE_STOPPED, "module " + j.module + " stopped");
            }
        }
        CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> m.reply().complete(null));
    }

    private List<JobView> find(Query q) {
        List<Job> matching = new ArrayList<>();
        for (Job j : jobs.values()) {
            if (q.state().map(s -> s == j.state).orElse(true) && q.module().map(j.module::equals).orElse(true)) {
                matching.add(j);
            }
        }
        matching.sort(Comparator.comparingLong((Job j) -> j.started).thenComparing(j -> j.id).reversed());
        long now = clock.millis();
        List<JobView> views = new ArrayList<>();
        for (int i = 0; i < Math.min(q.limit(), matching.size()); i++) {
            views.add(matching.get(i).view(now));
        }
        return views;
    }

    private void event(Job j, TraceEvent e) {
        j.events.add(e);
        journal.append(j.eventRecord(e));
    }

    // --- restart

    private void load(List<ObjectNode> records) {
        int unreadable = 0;
        Map<JsonNode, JobDefinition> definitionsRead = new java.util.HashMap<>();
        for (ObjectNode r : records) {
            String id = r.path("id").asText();
            if ("job".equals(r.path("t").asText())) {
                try {
                    jobs.put(id, Job.fromSnapshot(r, definitionsRead));
                } catch (RuntimeException e) {
                    unreadable++;
                    log.error("jobs journal: job {} cannot be read back and is left out: {}", id, e.getMessage());
                }
            } else {
                Job j = jobs.get(id);
                if (j != null) {
                    j.apply(r);
                }
            }
        }
        List<Job> ended = new ArrayList<>();
        for (Job j : jobs.values()) {
            if (j.state.ended()) {
                ended.add(j);
            }
        }
        ended.sort(Comparator.comparingLong(j -> j.ended));
        for (int i = 0; i < ended.size(); i++) {
            if (i < ended.size() - keepFinished) {
                jobs.remove(ended.get(i).id);
            } else {
                endedOrder.addLast(ended.get(i).id);
            }
        }
        log.info("jobs journal read: {} records, {} jobs kept ({} ended){}", records.size(), jobs.size(), endedOrder.size(),
                unreadable > 0 ? ", " + unreadable + " unreadable" : "");
    }

    private List<ObjectNode> snapshots() {
        List<ObjectNode> list = new ArrayList<>(jobs.size());
        for (Job j : jobs.values()) {
            list.add(j.snapshot());
        }
        return list;
    }

    /** Brings back every job that was running or stopping when the server stopped. */
    private void recover() {
        long now = clock.millis();
        int resumed = 0;
        for (Job j : List.copyOf(jobs.values())) {
            if (j.state.ended()) {
                continue;
            }
            j.recorded = true;
            active.incrementAndGet();
            for (int i = 0; i < j.steps(); i++) {
                if (j.status[i] == StepStatus.RUNNING) {
                    j.status[i] = StepStatus.INTERRUPTED;
                }
            }
            if (modules.driverOf(j.module).isEmpty()) {
                event(j, TraceEvent.note(now, "restart", "the server started again, but module " + j.module
                        + " no longer exists: the job ends without its neutral calls"));
                j.state = JobState.STOPPING;
                j.target = JobState.MODULE_STOPPED;
                j.reason = "module " + j.module + " no longer exists";
                end(j);
                continue;
            }
            if (j.state == JobState.STOPPING) {
                event(j, TraceEvent.note(now, "restart", "the server stopped while the job was stopping ("
                        + j.target.word() + "): its neutral calls run again"));
                neutral(j, 0);
                continue;
            }
            int last = j.lastBegun();
            j.next = last + 1;
            if (last >= 0 && j.status[last] == StepStatus.FAILED) {
                event(j, TraceEvent.note(now, "restart", "the server started again after " + j.name(last) + " had failed"));
                stop(j, JobState.FAILED, j.name(last) + " failed: " + j.errors[last]);
                continue;
            }
            if (now >= j.deadline()) {
                if (j.allCallsDone()) {
                    event(j, TraceEvent.note(now, "restart", "the server was down when the job was to end; every step had run"));
                    finish(j);
                } else {
                    event(j, TraceEvent.note(now, "restart", "the job's deadline " + Instant.ofEpochMilli(j.deadline())
                            + " passed while the server was down: it ends now in its neutral state; the steps left are not run"));
                    stop(j, JobState.EXPIRED, "its deadline passed while the server was down");
                }
                continue;
            }
            resumed++;
            boolean overdue = j.nextCallDue() <= now;
            event(j, TraceEvent.note(now, "restart", "the server started again: the steps left run at their original due times"
                    + (overdue ? " (those already due run now)" : "") + "; the job ends at " + Instant.ofEpochMilli(j.deadline())));
            if (last >= 0 && j.status[last] == StepStatus.INTERRUPTED) {
                event(j, new TraceEvent(Instant.ofEpochMilli(now), "reapply-skipped", j.name(last)
                        + " began before the server stopped and never answered: its outcome is unknown, and a step runs once, so it is not run again",
                        OptionalInt.of(last), Optional.of(j.call(last).function()), Optional.empty(), Optional.empty()));
                advance(j);
            } else if (last >= 0 && !overdue) {
                reapply(j, last);
            } else {
                advance(j);
            }
        }
        if (active.get() > 0) {
            log.info("jobs recovered: {} running or stopping, {} resumed", active.get(), resumed);
        }
    }

    // --- shutdown

    private void shutdown(Shutdown m) {
        if (phase != Phase.RUNNING) {
            m.reply().complete(null);
            return;
        }
        phase = Phase.DRAINING;
        shutdownReply = m.reply();
        Instant now = clock.instant();
        actor.schedule(now.plusMillis(stopTimeoutMillis / 2), new DrainOver(), new DrainOver());
        actor.schedule(now.plusMillis(stopTimeoutMillis), new NeutralOver(), new NeutralOver());
        // the handler calls checkShutdown() next
    }

    /** Moves the shutdown on once what it waits for has answered, or its time has run out. */
    private void checkShutdown() {
        if (phase == Phase.RUNNING || phase == Phase.DONE) {
            return;
        }
        if (phase == Phase.DRAINING) {
            boolean busy = false;
            for (Job j : jobs.values()) {
                if (j.inFlight || j.reapplying) {
                    busy = true;
                    break;
                }
            }
            if (busy && !drainOver) {
                return;
            }
            phase = Phase.NEUTRAL;
            long at = clock.millis();
            for (Job j : jobs.values()) {
                if (j.state == JobState.RUNNING && j.recorded) {
                    event(j, TraceEvent.note(at, "shutdown", "the server is shutting down: the neutral calls run now, and the job "
                            + "resumes when the server starts again (re-applying its current step) unless its deadline has passed by then"));
                    if (j.neutralAt < 0) {
                        j.shutdownNeutral = true;
                        shutdownNeutrals++;
                        neutral(j, 0);
                    }
                }
            }
        }
        if (phase == Phase.NEUTRAL) {
            boolean busy = shutdownNeutrals > 0;
            for (Job j : jobs.values()) {
                if (busy) {
                    break;
                }
                busy = j.state == JobState.STOPPING;
            }
            if (busy && !neutralOver) {
                return;
            }
            if (busy) {
                log.warn("jobs: not every neutral call answered within {} ms of the shutdown", stopTimeoutMillis);
            }
            phase = Phase.DONE;
            actor.cancel(new DrainOver());
            actor.cancel(new NeutralOver());
            CompletableFuture<Void> reply = shutdownReply;
            journal.flush().whenComplete((v, e) -> reply.complete(null));
        }
    }

    /**
     * Shuts down: takes no new jobs, lets calls in flight answer, runs every running job's neutral calls (within the
     * stop timeout), and writes the journal to disk. Running jobs stay running in the journal and resume on the next
     * {@link #start()}. Close this before the modules, so their stopping does not end the jobs.
     */
    @Override
    public void close() {
        if (!started || closing || halted) {
            return;
        }
        closing = true;
        accepting = false;
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            actor.send(new Shutdown(done));
            done.get(stopTimeoutMillis + 5_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("jobs: shutdown did not finish in time: {}", e.toString());
        }
        // after the shutdown the handler only refuses what is left (requests fail UNAVAILABLE, answers are dropped)
        actor.close(Duration.ofSeconds(1));
        journal.close();
        log.info("jobs closed: {} jobs stay resumable", active.get());
    }

    /** Stops at once, as {@code kill -9} would: no neutral calls, nothing more written. For tests. */
    void halt() {
        halted = true;
        accepting = false;
        if (actor != null) {
            actor.close(Duration.ZERO);
        }
        if (journal != null) {
            journal.halt();
        }
    }

    // --- helpers

    /** Calls a function on a module, never throwing, and never waiting longer than the call timeout. */
    private CompletableFuture<JsonNode> call(Principal who, String module, String function, JsonNode args) {
        CompletableFuture<JsonNode> f;
        try {
            f = modules.exec(who, module, function, args).copy();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.orTimeout(callTimeoutMillis, TimeUnit.MILLISECONDS);
    }

    private static JsonNode orNull(JsonNode v) {
        return v == null ? NullNode.getInstance() : v;
    }

    static String message(Throwable e) {
        Throwable c = e;
        while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof TimeoutException) {
            return "no answer in time";
        }
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }

    private static String names(List<JobDefinition> defs) {
        if (defs.isEmpty()) {
            return "none";
        }
        List<String> names = new ArrayList<>();
        for (JobDefinition d : defs) {
            names.add(d.name());
        }
        return String.join(", ", names);
    }

    /** What a job manager needs; all but the folder, the modules and the drivers have defaults. */
    public static final class Builder {
        private final Path dir;
        private final ModuleCalls modules;
        private final DriverCatalog drivers;
        private List<Definition> configJobs = List.of();
        private Clock clock = Clock.systemUTC();
        private MeterRegistry metrics = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        private int keepFinished = 10_000;
        private Duration callTimeout = Duration.ofSeconds(30);
        private Duration stopTimeout = Duration.ofSeconds(10);
        private Duration tick = Duration.ofMillis(50);
        private long compactBytes = 64L << 20;
        private io.junction.core.hub.EventHub hub;

        /** Where job starts and ends are published ({@code devices.job.*}). */
        public Builder hub(io.junction.core.hub.EventHub hub) {
            this.hub = Objects.requireNonNull(hub, "hub");
            return this;
        }

        private Builder(Path dir, ModuleCalls modules, DriverCatalog drivers) {
            this.dir = dir;
            this.modules = modules;
            this.drivers = drivers;
        }

        /** The {@code [[jobs]]} sections of the config. */
        public Builder configJobs(List<Definition> configJobs) {
            this.configJobs = List.copyOf(configJobs);
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        public Builder metrics(MeterRegistry metrics) {
            this.metrics = metrics;
            return this;
        }

        /** How many ended jobs are kept (in memory and in the journal) for the API; 10,000 by default. */
        public Builder keepFinished(int keepFinished) {
            if (keepFinished < 0) {
                throw new IllegalArgumentException("keepFinished must be 0 or more, got " + keepFinished);
            }
            this.keepFinished = keepFinished;
            return this;
        }

        /** The longest a step or neutral call may take before it counts as failed; 30 s by default. */
        public Builder callTimeout(Duration callTimeout) {
            this.callTimeout = callTimeout;
            return this;
        }

        /** The longest {@link #close()} and a module's stopping wait for neutral calls; 10 s by default. */
        public Builder stopTimeout(Duration stopTimeout) {
            this.stopTimeout = stopTimeout;
            return this;
        }

        /** How often the actor reads the clock while a timer is set (a clock moved by hand is noticed this soon); 50 ms by default. */
        Builder tick(Duration tick) {
            this.tick = tick;
            return this;
        }

        /** The journal is compacted once it has grown by this many bytes (and by its compacted size); 64 MiB by default. */
        Builder compactBytes(long compactBytes) {
            this.compactBytes = compactBytes;
            return this;
        }

        /** Checks the config's jobs (throws {@link ConfigException} naming where one is wrong); call {@link Jobs#start()} next. */
        public Jobs build() {
            return new Jobs(this);
        }
    }
}
