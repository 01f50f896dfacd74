package io.junction.engine;

import io.junction.core.Message;
import io.junction.core.actor.Actor;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One script at work, as an actor ({@link ScriptCommand}): its messages come from its own at-least-once follower of
 * the raw stream (filtered by its bind patterns), run one after the other in raw-stream order on the engine's
 * {@link Workers} (platform threads, so the watchdog can measure each call), and what the script gives is appended
 * to the processed stream. The follower commits the offset, and a commit waits until those outputs are durable.
 *
 * <p>A batch runs in time slices; between two messages it gives way to a waiting control command (a new version, a
 * status request, a stop) and then goes on. A suspended or failed script holds its batch — the follower waits, and
 * catches up from the log later — until a new version is stored. A new version with other bind patterns gets a new
 * follower that starts at the next message, so nothing between the two is missed or run twice.
 *
 * <p>After a crash the follower starts again from the last commit. Output ids are derived from (script, source
 * offset, output index), so the outputs that were already appended — all of them after the processed-stream end
 * recorded with that commit — are recognised and not appended again. After a clean stop the commit is exactly where
 * the script stopped, so nothing runs twice.
 */
final class ScriptActor {

    private static final Logger log = LoggerFactory.getLogger(ScriptActor.class);

    /** Live entries a script's follower keeps in memory before it reads from the log instead. */
    static final int FOLLOWER_CAPACITY = 2048;
    private static final int MAILBOX = 64;
    private static final int MAX_DEDUP_IDS = 1_000_000;
    private static final int RECENT_FAILURES = 10;
    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    enum State { STARTING, RUNNING, SUSPENDED, FAILED, STOPPED }

    /** A version of the script, as the actor runs it. */
    record Version(ScriptStore.Stored stored, Runtimes.Compiled compiled) {
        ScriptSource source() {
            return stored.source();
        }
    }

    final String name;
    private final Shared shared;
    private final LogRing logs;
    private final OutputIds ids;
    /** Pass-through copies messages: no script code runs, so it needs neither a worker nor the watchdog. */
    private final boolean passThrough;
    private final Guard inlineGuard;
    private final Actor<ScriptCommand> actor;
    /** Control commands sent and not handled yet: a batch gives way to them between two messages. */
    private final AtomicInteger controls = new AtomicInteger();
    /** The follower whose batches count; an older one (replaced after a change of bind patterns) is ignored. */
    private volatile long generation;
    /** Set when the engine stops the script: a call stopped without a limit is the shutdown, not the script's fault. */
    private volatile boolean closing;

    // Read by commits on the follower's thread.
    private volatile CompletableFuture<Long> lastAppend;
    /** Where a stop left off: commits never go past it. */
    private volatile long heldBack = Long.MAX_VALUE;
    /** Set when the processed stream refused an output: the offset must never again move past what is durable. */
    private volatile Throwable refused;

    // Owned by the actor: its handler, and the worker it lends a slice to while it waits.
    private Version version;
    private Runner runner;
    private Host host;
    private State state = State.STARTING;
    private String reason = "";
    private long nextOffset;
    private long versionSince;
    private long in;
    private long out;
    private long failed;
    private long timeLimitStops;
    private long memoryLimitStops;
    private long duplicatesSkipped;
    private int failuresInARow;
    private ScriptInfo.Failure lastFailure;
    private final ArrayDeque<ScriptInfo.Failure> recentFailures = new ArrayDeque<>(RECENT_FAILURES);
    private final Outputs outputs = new Outputs();
    private final List<Message> pending = new ArrayList<>();
    private CompletableFuture<Long> appended;
    private final long startOffset;
    private final long committedProcessed;
    private Set<String> alreadyAppended;
    private long dedupUntil;
    private StreamFollower follower;
    private Commits commits;
    private long generations;
    /** A batch held while the script is suspended or failed. */
    private ScriptCommand.Run parked;
    private Replay replay;
    private boolean stopping;

    /**
     * Starts a script: its actor, then its follower from {@code start}.
     *
     * @param runner a runner already loaded for {@code version}, or null to load it on a worker
     * @param start  where it starts: its last commit, or the ends of the streams for a new script
     */
    ScriptActor(String name, Version version, Runner runner, Host host, LogRing logs, ScriptStore.Offsets start,
                Shared shared, boolean passThrough, Clock clock) {
        this.name = name;
        this.version = version;
        this.runner = runner;
        this.host = host;
        this.logs = logs;
        this.shared = shared;
        this.passThrough = passThrough;
        // Unwatched: pass-through calls no script code, and the guard only marks its calls.
        this.inlineGuard = passThrough ? new Guard(Thread.currentThread(), 0) : null;
        this.ids = new OutputIds("live:" + name);
        this.nextOffset = start.raw();
        this.versionSince = start.raw();
        this.committedProcessed = start.processed();
        this.startOffset = start.raw();
        this.actor = Actor.start("script-" + name, MAILBOX, clock, this::handle);
        // The first command: everything the actor does comes after it, and it starts the follower.
        actor.tell(new ScriptCommand.Start());
    }

    LogRing logs() {
        return logs;
    }

    // ---- what others ask (each is a command) ----

    /** Hands a new version to the actor; the reply is the raw offset it applies from. */
    CompletableFuture<Long> replace(Version v, Runner loaded, Host h) {
        return control(reply -> new ScriptCommand.Replace(v, loaded, h, reply));
    }

    CompletableFuture<ScriptInfo> status(boolean full) {
        return control(reply -> new ScriptCommand.Status(full, reply));
    }

    CompletableFuture<ReplayInfo> replay(long from, long to) {
        return control(reply -> new ScriptCommand.StartReplay(from, to, reply));
    }

    /** Asks the script to stop; {@link #awaitStop} finishes it. */
    CompletableFuture<StreamFollower> requestStop() {
        CompletableFuture<StreamFollower> reply = new CompletableFuture<>();
        controls.incrementAndGet();
        closing = true;
        if (!actor.tell(new ScriptCommand.Stop(reply))) {
            controls.decrementAndGet();
        }
        return reply;
    }

    /**
     * Waits for the stop asked by {@link #requestStop}, closes the follower (which commits where the script stopped)
     * and the actor.
     */
    void awaitStop(CompletableFuture<StreamFollower> stopped, long timeoutMillis) {
        try {
            stopped.get(timeoutMillis, TimeUnit.MILLISECONDS).close();
        } catch (TimeoutException e) {
            log.warn("script={} did not stop within {} ms", name, timeoutMillis);
            stopped.thenAcceptAsync(StreamFollower::close);
        } catch (ExecutionException e) {
            log.warn("script={} stopped with an error: {}", name, e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            actor.close();
        }
    }

    void stop(long timeoutMillis) {
        awaitStop(requestStop(), timeoutMillis);
    }

    private <R> CompletableFuture<R> control(Function<CompletableFuture<R>, ScriptCommand> request) {
        CompletableFuture<R> reply = new CompletableFuture<>();
        controls.incrementAndGet();
        if (!actor.tell(request.apply(reply))) {
            controls.decrementAndGet();
        }
        return reply;
    }

    // ---- the follower ----

    private StreamFollower follow(long from) {
        long gen = ++generations;
        generation = gen;
        commits = new Commits(from);
        ScriptSource src = version.source();
        return StreamFollower.atLeastOnce(shared.raw(), "script-" + name, commits, m -> src.matches(m.key()),
                FOLLOWER_CAPACITY, batch -> deliver(gen, batch));
    }

    /**
     * The follower's handler: the batch goes to the actor — run on this thread when the actor is idle — and the
     * follower waits until it is done, so it commits only what ran.
     */
    private void deliver(long gen, List<StreamEntry> batch) throws Exception {
        if (gen != generation) {
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.runNowOrTell(new ScriptCommand.Run(gen, batch, 0, done));
        done.get();
    }

    /**
     * Where a follower of this script records how far it got: only once the outputs so far are durable, never past
     * where a stop left off, and nothing at all once the follower was replaced. The write itself is the
     * {@link OffsetWriter}'s, so the follower does not wait for the disk.
     */
    private final class Commits implements CommittedOffset {

        private final long start;
        private volatile boolean retired;

        Commits(long start) {
            this.start = start;
        }

        @Override
        public long load() {
            return start;
        }

        @Override
        public void commit(long next) {
            if (retired) {
                return;
            }
            long at = Math.min(next, heldBack);
            if (refused == null && lastAppend != null) {
                try {
                    lastAppend.join();
                } catch (CompletionException | CancellationException e) {
                    refused = e.getCause() != null ? e.getCause() : e;
                }
            }
            if (refused != null) {
                throw new IllegalStateException("script " + name + ": the processed stream refused an output ("
                        + refused + "); the offset stays at the last commit");
            }
            shared.offsets().commit(name, new ScriptStore.Offsets(at, shared.processed().endOffset()));
        }
    }

    // ---- the actor ----

    private void handle(ScriptCommand command) {
        switch (command) {
            case ScriptCommand.Start s -> start();
            case ScriptCommand.Run r -> run(r);
            case ScriptCommand.Replace r -> {
                controls.decrementAndGet();
                r.reply().complete(replace(r));
            }
            case ScriptCommand.StartReplay r -> {
                controls.decrementAndGet();
                r.reply().complete(startReplay(r.from(), r.to()));
            }
            case ScriptCommand.Status s -> {
                controls.decrementAndGet();
                s.reply().complete(info(s.full()));
            }
            case ScriptCommand.Stop s -> {
                controls.decrementAndGet();
                s.reply().complete(stop());
            }
        }
    }

    private void start() {
        try {
            if (runner != null || loadRunner()) {
                state = State.RUNNING;
            } else {
                fail("the script cannot start: " + reason);
            }
            loadDedup();
        } finally {
            follower = follow(startOffset);
        }
    }

    private void run(ScriptCommand.Run r) {
        if (r.generation() != generation || stopping) {
            // Read again by the newer follower, or after the restart.
            r.reply().complete(null);
            return;
        }
        if (refused != null && state == State.RUNNING) {
            fail("the processed stream refused an output: " + refused);
        }
        int at = r.from();
        while (true) {
            if (state != State.RUNNING) {
                parked = at == r.from() ? r : new ScriptCommand.Run(r.generation(), r.entries(), at, r.reply());
                return;
            }
            if (controls.get() > 0) {
                // Behind the waiting commands; if the mailbox refuses it the follower hands the batch again.
                actor.tell(new ScriptCommand.Run(r.generation(), r.entries(), at, r.reply()));
                return;
            }
            int from = at;
            at = passThrough ? slice(r.entries(), from, inlineGuard) : shared.workers().call(g -> slice(r.entries(), from, g));
            if (at >= r.entries().size()) {
                r.reply().complete(null);
                return;
            }
        }
    }

    /**
     * Runs entries from index {@code i} on, for one time slice at most, and returns the index of the first entry not
     * done. Runs on a worker while the actor waits for it.
     */
    private int slice(List<StreamEntry> entries, int i, Guard guard) {
        long start = System.nanoTime();
        int n = entries.size();
        try {
            for (; i < n; i++) {
                StreamEntry e = entries.get(i);
                if (e.offset() < nextOffset) {
                    continue;
                }
                if (!handle(e, guard)) {
                    return i;
                }
                nextOffset = e.offset() + 1;
                if (state != State.RUNNING || controls.get() > 0 || System.nanoTime() - start > SLICE_NANOS) {
                    return i + 1;
                }
            }
            return n;
        } finally {
            if (appended != null) {
                lastAppend = appended;
                appended = null;
            }
        }
    }

    /**
     * Runs one message. True when the message is done with — processed, or recorded as failed — so the offset moves
     * past it; false when it was not run (the engine is shutting down, or the script could not be reloaded), so it
     * is read again later.
     */
    private boolean handle(StreamEntry e, Guard guard) {
        for (int attempt = 0; ; attempt++) {
            outputs.clear();
            pending.clear();
            ScriptFailure failure = null;
            long call = guard.enter(runner);
            try {
                runner.process(e, outputs);
            } catch (ScriptFailure f) {
                failure = f;
            } catch (RuntimeException ex) {
                failure = new ScriptFailure(ScriptFailure.Cause.ERROR, "internal error: " + ex, 0, true);
            } finally {
                guard.exit();
            }
            Limit limit = guard.stoppedBy(call);
            if (failure == null) {
                try {
                    outputs.build(e, ids, null, pending);
                } catch (ScriptFailure f) {
                    failure = f;
                }
            }
            if (failure == null) {
                in++;
                append();
                failuresInARow = 0;
                shared.meters().ok().increment();
                return true;
            }
            if (failure.kind() == ScriptFailure.Cause.STOPPED && limit == null) {
                if (closing) {
                    return false;
                }
                if (attempt == 0) {
                    // Stopped, but not for this call: a stop meant for the previous call landed late. Run it again.
                    if (failure.broken() && !reload(guard)) {
                        return false;
                    }
                    continue;
                }
            }
            in++;
            recordFailure(e, failure, limit);
            if ((failure.broken() || limit == Limit.MEMORY) && !reload(guard)) {
                return true;
            }
            if (++failuresInARow >= shared.failuresBeforeSuspend()) {
                suspend("suspended after " + failuresInARow + " failed messages in a row; the last one: " + lastFailure.reason());
            }
            return true;
        }
    }

    private void recordFailure(StreamEntry e, ScriptFailure failure, Limit limit) {
        failed++;
        shared.meters().failed().increment();
        String why;
        if (limit == Limit.TIME) {
            timeLimitStops++;
            shared.meters().timeLimit().increment();
            why = "stopped by the time limit: the call ran longer than " + shared.watchdog().timeLimitMillis() + " ms";
        } else if (limit == Limit.MEMORY) {
            memoryLimitStops++;
            shared.meters().memoryLimit().increment();
            why = "stopped by the memory limit: the call allocated more than "
                    + shared.watchdog().memoryLimitBytes() / (1024 * 1024) + " MB";
        } else {
            why = failure.getMessage();
        }
        ScriptInfo.Failure f = new ScriptInfo.Failure(e.offset(), e.message().id(), e.message().key().value(), why, failure.line(),
                Instant.now().toString());
        lastFailure = f;
        if (recentFailures.size() == RECENT_FAILURES) {
            recentFailures.pollFirst();
        }
        recentFailures.addLast(f);
        if (log.isDebugEnabled()) {
            log.debug("script={} message offset={} failed: {}", name, e.offset(), why);
        }
    }

    /** Replaces a runner that cannot be used again (cancelled context, interrupted module) by a fresh one, on this worker. */
    private boolean reload(Guard guard) {
        runner.close(guard);
        runner = null;
        try {
            runner = shared.runtimes().instantiate(version.compiled(), host, guard);
            return true;
        } catch (ScriptRejectedException e) {
            fail("the script could not be restarted after a failure: " + describe(e));
            return false;
        }
    }

    private boolean loadRunner() {
        try {
            Version v = version;
            Host h = host;
            runner = shared.loader().call(g -> shared.runtimes().instantiate(v.compiled(), h, g));
            return true;
        } catch (ScriptRejectedException e) {
            runner = null;
            reason = describe(e);
            return false;
        } catch (RuntimeException e) {
            runner = null;
            reason = e.toString();
            return false;
        }
    }

    private void closeRunner() {
        Runner r = runner;
        runner = null;
        if (r == null) {
            return;
        }
        if (passThrough) {
            r.close(inlineGuard);
        } else {
            shared.loader().call(g -> {
                r.close(g);
                return null;
            });
        }
    }

    private static String describe(ScriptRejectedException e) {
        return e.getMessage() + (e.line() > 0 ? " (line " + e.line() + ")" : "");
    }

    private void fail(String why) {
        state = State.FAILED;
        reason = why;
        log.warn("script={} failed: {}", name, why);
        shared.publish(new ScriptEvent(name, "failed", version.stored().version(), why));
    }

    private void suspend(String why) {
        state = State.SUSPENDED;
        reason = why;
        log.warn("script={} {}", name, why);
        shared.publish(new ScriptEvent(name, "suspended", version.stored().version(), why));
    }

    private void append() {
        for (Message m : pending) {
            if (alreadyAppended != null) {
                if (nextOffset >= dedupUntil) {
                    alreadyAppended = null;
                } else if (alreadyAppended.contains(m.id())) {
                    duplicatesSkipped++;
                    continue;
                }
            }
            appended = shared.processed().appendWaiting(m);
            out++;
            shared.meters().outputs().increment();
        }
    }

    /** The ids appended to the processed stream since this script's last commit: outputs not to append again. */
    private void loadDedup() {
        long end = shared.processed().endOffset();
        if (committedProcessed >= end) {
            return;
        }
        Set<String> seen = new HashSet<>();
        long at = Math.max(committedProcessed, shared.processed().startOffset());
        while (at < end && seen.size() < MAX_DEDUP_IDS) {
            List<StreamEntry> chunk = shared.processed().read(at, 4096);
            if (chunk.isEmpty()) {
                break;
            }
            for (StreamEntry x : chunk) {
                seen.add(x.message().id());
            }
            at = chunk.getLast().offset() + 1;
        }
        if (at < end) {
            log.warn("script={} more than {} processed messages since its last commit; outputs before offset {} may be appended twice",
                    name, MAX_DEDUP_IDS, at);
        }
        alreadyAppended = seen;
        dedupUntil = shared.raw().endOffset();
    }

    private long replace(ScriptCommand.Replace r) {
        Version old = version;
        try {
            closeRunner();
        } catch (RuntimeException e) {
            log.warn("script={} could not free the runner of version {}: {}", name, old.stored().version(), e.toString());
        }
        version = r.version();
        host = r.host();
        runner = r.runner();
        if (!old.source().bind().equals(version.source().bind())) {
            // The old follower skipped what the new patterns match: a new one reads on from the next message.
            commits.retired = true;
            StreamFollower replaced = follower;
            follower = follow(nextOffset);
            if (parked != null) {
                parked.reply().complete(null);
                parked = null;
            }
            // Its thread may be waiting for a batch queued here: close it off this thread.
            Thread.ofVirtual().name("script-" + name + "-unfollow").start(replaced::close);
        }
        if (state != State.RUNNING) {
            log.info("script={} resumes with version {} at offset {}", name, version.stored().version(), nextOffset);
        }
        state = State.RUNNING;
        reason = "";
        failuresInARow = 0;
        versionSince = nextOffset;
        if (parked != null) {
            ScriptCommand.Run held = parked;
            parked = null;
            actor.tell(held);
        }
        return nextOffset;
    }

    private ReplayInfo startReplay(long from, long to) {
        if (replay != null && replay.running()) {
            throw new IllegalStateException("a replay of '" + name + "' is running already (at offset "
                    + replay.info().position() + " of " + replay.info().to() + ")");
        }
        if (!shared.replayPermits().tryAcquire()) {
            throw new IllegalStateException(shared.threads() + " replays are running already, as many as [engine] threads allows");
        }
        ScriptSource s = version.source();
        replay = new Replay(name, s, passThrough ? null : version.compiled(), shared.host(s, logs, false), shared, from, to,
                shared.replayPermits()::release);
        replay.start();
        log.info("replay of {} started: offsets {}..{}", name, from, to);
        return replay.info();
    }

    private StreamFollower stop() {
        stopping = true;
        heldBack = nextOffset;
        if (parked != null) {
            parked.reply().complete(null);
            parked = null;
        }
        if (replay != null) {
            replay.cancel(shared.timeLimitMillis() + 5_000);
        }
        try {
            closeRunner();
        } catch (RuntimeException e) {
            log.warn("script={} could not free its runner: {}", name, e.toString());
        }
        state = State.STOPPED;
        return follower;
    }

    private ScriptInfo info(boolean full) {
        ScriptSource s = version.source();
        long offset = stopping ? nextOffset : Math.max(nextOffset, follower.position());
        return new ScriptInfo(name, s.language().id(), s.bindValues(), s.origin(), version.stored().version(),
                Instant.ofEpochMilli(version.stored().storedAt()).toString(), state.name().toLowerCase(Locale.ROOT),
                reason, offset, Math.max(0, shared.raw().endOffset() - offset), versionSince,
                new ScriptInfo.Counters(in, out, failed, timeLimitStops, memoryLimitStops, duplicatesSkipped),
                lastFailure, full ? new ArrayList<>(recentFailures) : null, full ? logs.recent() : null,
                replay == null ? null : replay.info(), HexFormat.of().formatHex(sha256(s.code())), s.code().length,
                full && s.language() != Language.WASM ? s.text() : null,
                new ScriptInfo.Owner(s.owner().user(), s.owner().role().id()));
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
