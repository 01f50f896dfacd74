package io.junction.engine;

import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One script at work: runs its messages one after the other in raw-stream order (so the messages of one routing key
 * keep their order) on a platform thread of its own (so scripts run in parallel and the watchdog can measure its
 * allocation), appends what the script gives to the processed stream, and commits its own raw-stream offset once
 * those outputs are durable.
 *
 * <p>Messages arrive two ways. Live: the {@link Dispatcher} offers each matching message to a bounded mailbox without
 * ever blocking; if the mailbox is full the offer is dropped and the actor is marked {@code overflowed}. Catch-up:
 * after a start, an overflow, a resume or a change of bind patterns, the actor empties its mailbox, re-arms the live
 * path, and reads the raw stream itself from its offset to the end it saw when re-arming. Messages seen twice that way
 * are skipped by offset, so nothing is lost and nothing is processed twice.
 *
 * <p>After a crash the actor re-processes from its last committed offset. Output ids are derived from (script, source
 * offset, output index), so the outputs that were already appended — all of them after the processed-stream end
 * recorded with that offset — are recognised and not appended again.
 */
final class ScriptActor {

    private static final Logger log = LoggerFactory.getLogger(ScriptActor.class);

    static final int MAILBOX = 2048;
    static final int BATCH = 256;
    private static final long COMMIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int MAX_DEDUP_IDS = 1_000_000;
    private static final int RECENT_FAILURES = 10;
    private static final long SLICE_MILLIS = 20;
    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(SLICE_MILLIS);
    /** Wakes the actor for a control; its offset is below every real one, so it is skipped. */
    private static final StreamEntry WAKE = new StreamEntry(-1, new Message("wake", 0, "", io.junction.core.RoutingKey.of("wake"), "", "wake", "{}"));

    enum State { STARTING, RUNNING, SUSPENDED, FAILED, STOPPED }

    /** A version of the script, as the actor runs it. */
    record Version(ScriptStore.Stored stored, Runtimes.Compiled compiled) {
        ScriptSource source() {
            return stored.source();
        }
    }

    private sealed interface Control permits Swap, Stop {
    }

    /** Runs {@code version} from the next message on; {@code runner} is already loaded (null: load it here). */
    private record Swap(Version version, Runner runner, Host host, CompletableFuture<Long> applied) implements Control {
    }

    private record Stop() implements Control {
    }

    final String name;
    private final Shared shared;
    private final LogRing logs;
    private final OutputIds ids;
    private final ArrayBlockingQueue<StreamEntry> mailbox = new ArrayBlockingQueue<>(MAILBOX);
    private final ArrayBlockingQueue<Control> controls = new ArrayBlockingQueue<>(16);
    /** True when the mailbox may miss messages: the actor must read the raw stream before using it again. */
    private final AtomicBoolean overflowed = new AtomicBoolean(true);
    private final Thread thread;

    private volatile Version version;
    private volatile State state = State.STARTING;
    private volatile String reason = "";
    private volatile long nextOffset;
    private volatile long versionSince;
    private volatile long in;
    private volatile long out;
    private volatile long failed;
    private volatile long timeLimitStops;
    private volatile long memoryLimitStops;
    private volatile long duplicatesSkipped;
    private volatile ScriptInfo.Failure lastFailure;
    private final ArrayBlockingQueue<ScriptInfo.Failure> recentFailures = new ArrayBlockingQueue<>(RECENT_FAILURES);

    // Owned by the actor's thread.
    private Runner runner;
    private Host host;
    private Guard guard;
    private boolean stopping;
    private int failuresInARow;
    private final Outputs outputs = new Outputs();
    private final List<Message> pending = new ArrayList<>();
    private final List<StreamEntry> batch = new ArrayList<>(BATCH);
    private CompletableFuture<Long> lastAppend;
    /** Set when an output could not be appended: the offset must never again move past what is durable. */
    private boolean commitBlocked;
    private long committedRaw;
    private long committedProcessed;
    private long lastCommitNanos = System.nanoTime();
    private Set<String> alreadyAppended;
    private long dedupUntil;

    /**
     * @param runner a runner already loaded for {@code version}, or null to load it on the actor's thread
     * @param start  where it starts: its last commit, or the ends of the streams for a new script
     */
    ScriptActor(String name, Version version, Runner runner, Host host, LogRing logs, ScriptStore.Offsets start,
                Shared shared) {
        this.name = name;
        this.version = version;
        this.runner = runner;
        this.host = host;
        this.logs = logs;
        this.shared = shared;
        this.ids = new OutputIds("live:" + name);
        this.nextOffset = start.raw();
        this.versionSince = start.raw();
        this.committedRaw = start.raw();
        this.committedProcessed = start.processed();
        this.thread = Thread.ofPlatform().name("script-" + name).daemon(true).unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    /** Called by the dispatcher on the raw stream's writer thread: never blocks. */
    void offer(StreamEntry e) {
        if (!version.source().matches(e.message().key()) || overflowed.get()) {
            return;
        }
        if (!mailbox.offer(e)) {
            overflowed.set(true);
        }
    }

    /** Hands a new version to the actor; the future completes with the raw offset it applies from. */
    CompletableFuture<Long> swap(Version v, Runner loaded, Host h) {
        CompletableFuture<Long> applied = new CompletableFuture<>();
        control(new Swap(v, loaded, h, applied));
        return applied;
    }

    /** Stops the actor after the message it is on, commits its offset and frees its runner. */
    void stop(long timeoutMillis) {
        requestStop();
        awaitStop(timeoutMillis);
    }

    void requestStop() {
        control(new Stop());
    }

    void awaitStop(long timeoutMillis) {
        try {
            thread.join(timeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            log.warn("script={} did not stop within {} ms", name, timeoutMillis);
        }
    }

    private void control(Control c) {
        try {
            controls.put(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while handing a command to script " + name, e);
        }
        mailbox.offer(WAKE);
    }

    // ---- the loop ----

    private void run() {
        guard = shared.watchdog().guard();
        try {
            if (runner == null && !loadRunner()) {
                fail("the script cannot start: " + reason);
            } else {
                state = State.RUNNING;
            }
            loadDedup();
            while (!stopping) {
                applyControls();
                if (stopping) {
                    break;
                }
                if (state != State.RUNNING) {
                    waitForControl();
                    continue;
                }
                if (overflowed.get()) {
                    catchUp();
                    continue;
                }
                StreamEntry first;
                try {
                    first = mailbox.poll(50, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    continue;
                }
                if (first == null) {
                    idle();
                    continue;
                }
                batch.clear();
                batch.add(first);
                mailbox.drainTo(batch, BATCH - 1);
                processBatch(batch);
                commit(false);
            }
        } catch (RuntimeException | Error e) {
            log.error("script={} actor stopped by an unexpected error: {}", name, e.toString(), e);
            reason = "internal error: " + e;
            state = State.FAILED;
        } finally {
            commit(true);
            if (runner != null) {
                runner.close(guard);
            }
            shared.watchdog().release(guard);
            if (state == State.RUNNING || state == State.STARTING) {
                state = State.STOPPED;
            }
        }
    }

    private void waitForControl() {
        try {
            Control c = controls.poll(100, TimeUnit.MILLISECONDS);
            if (c != null) {
                apply(c);
            }
        } catch (InterruptedException e) {
            // look again
        }
        mailbox.clear();
    }

    private void applyControls() {
        Control c;
        while ((c = controls.poll()) != null) {
            apply(c);
        }
    }

    private void apply(Control c) {
        switch (c) {
            case Stop s -> stopping = true;
            case Swap s -> {
                Version old = version;
                if (runner != null) {
                    runner.close(guard);
                }
                version = s.version();
                host = s.host();
                runner = s.runner();
                if (runner == null && !loadRunner()) {
                    fail("version " + s.version().stored().version() + " cannot start: " + reason);
                    s.applied().complete(nextOffset);
                    return;
                }
                if (!old.source().bind().equals(s.version().source().bind()) || state != State.RUNNING) {
                    overflowed.set(true);
                }
                if (state != State.RUNNING) {
                    log.info("script={} resumes with version {} at offset {}", name, s.version().stored().version(), nextOffset);
                }
                state = State.RUNNING;
                reason = "";
                failuresInARow = 0;
                versionSince = nextOffset;
                s.applied().complete(nextOffset);
            }
        }
    }

    private boolean loadRunner() {
        try {
            runner = shared.runtimes().instantiate(version.compiled(), host, guard);
            return true;
        } catch (ScriptRejectedException e) {
            runner = null;
            reason = e.getMessage() + (e.line() > 0 ? " (line " + e.line() + ")" : "");
            return false;
        }
    }

    private void fail(String why) {
        state = State.FAILED;
        reason = why;
        overflowed.set(true);
        log.warn("script={} failed: {}", name, why);
        shared.publish(new ScriptEvent(name, "failed", version.stored().version(), why));
    }

    /** Reads the raw stream from the offset to the end seen when re-arming the live path. */
    private void catchUp() {
        mailbox.clear();
        overflowed.set(false);
        long end = shared.raw().endOffset();
        while (nextOffset < end && !stopping) {
            List<StreamEntry> chunk = shared.raw().read(nextOffset, 1024);
            if (chunk.isEmpty()) {
                // Retention removed what we had not read: continue from the oldest message kept.
                long start = shared.raw().startOffset();
                if (start > nextOffset) {
                    log.warn("script={} skips offsets {}..{}: no longer in the raw stream", name, nextOffset, start - 1);
                    nextOffset = start;
                    continue;
                }
                break;
            }
            processBatch(chunk);
            if (state != State.RUNNING || overflowed.get() || stopping) {
                return;
            }
            commit(false);
            applyControls();
        }
    }

    /** Nothing arrived for a while: every matching message before the dispatcher's watermark has been processed. */
    private void idle() {
        long w = shared.dispatcher().watermark();
        if (mailbox.isEmpty() && !overflowed.get() && w > nextOffset) {
            nextOffset = w;
        }
        commit(false);
    }

    /**
     * Runs a batch of entries holding one of the engine's permits ({@code [engine] threads}); the permit is handed
     * on every {@value #SLICE_MILLIS} ms, so a slow script cannot keep the others waiting for a whole batch.
     */
    private void processBatch(List<StreamEntry> entries) {
        if (!acquirePermit()) {
            return;
        }
        long slice = System.nanoTime();
        try {
            for (StreamEntry e : entries) {
                if (e.offset() < nextOffset) {
                    continue;
                }
                if (!controls.isEmpty()) {
                    applyControls();
                    if (stopping || state != State.RUNNING || overflowed.get()) {
                        overflowed.set(true);
                        return;
                    }
                }
                if (version.source().matches(e.message().key()) && !handle(e)) {
                    // Stopped by shutdown: this message was not processed; it is read again after the restart.
                    overflowed.set(true);
                    return;
                }
                nextOffset = e.offset() + 1;
                if (state != State.RUNNING) {
                    overflowed.set(true);
                    return;
                }
                if (System.nanoTime() - slice > SLICE_NANOS) {
                    shared.permits().release();
                    if (!acquirePermit()) {
                        slice = -1;
                        return;
                    }
                    slice = System.nanoTime();
                }
            }
        } finally {
            if (slice != -1) {
                shared.permits().release();
            }
        }
    }

    private boolean acquirePermit() {
        try {
            shared.permits().acquire();
            return true;
        } catch (InterruptedException e) {
            overflowed.set(true);
            return false;
        }
    }

    /**
     * Runs one message. True when the message is done with — processed, or recorded as failed — so the offset moves
     * past it; false when it was not run (the engine is shutting down, or the script could not be reloaded), so it
     * is read again later.
     */
    private boolean handle(StreamEntry e) {
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
                if (stopping) {
                    return false;
                }
                if (attempt == 0) {
                    // Stopped, but not for this call: a stop meant for the previous call landed late. Run it again.
                    if (failure.broken() && !reload()) {
                        return false;
                    }
                    continue;
                }
            }
            in++;
            recordFailure(e, failure, limit);
            if ((failure.broken() || limit == Limit.MEMORY) && !reload()) {
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
        if (!recentFailures.offer(f)) {
            recentFailures.poll();
            recentFailures.offer(f);
        }
        if (log.isDebugEnabled()) {
            log.debug("script={} message offset={} failed: {}", name, e.offset(), why);
        }
    }

    /** Replaces a runner that cannot be used again (cancelled context, interrupted module) by a fresh one. */
    private boolean reload() {
        runner.close(guard);
        runner = null;
        if (loadRunner()) {
            return true;
        }
        fail("the script could not be restarted after a failure: " + reason);
        return false;
    }

    private void suspend(String why) {
        state = State.SUSPENDED;
        reason = why;
        overflowed.set(true);
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
            lastAppend = shared.processed().appendWaiting(m);
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

    /**
     * Commits the offset once the outputs appended so far are durable: at most every 100 ms while messages flow, every
     * second while only the processed stream moves (so a restart never scans far), and always when forced.
     */
    private void commit(boolean force) {
        long now = System.nanoTime();
        if (commitBlocked || (!force && now - lastCommitNanos < COMMIT_NANOS)) {
            return;
        }
        if (lastAppend != null) {
            try {
                lastAppend.join();
            } catch (CompletionException | java.util.concurrent.CancellationException e) {
                lastAppend = null;
                commitBlocked = true;
                if (!stopping) {
                    fail("the processed stream refused an output: " + e.getCause());
                }
                return;
            }
            lastAppend = null;
        }
        long raw = nextOffset;
        long processedEnd = shared.processed().endOffset();
        if (raw == committedRaw && (processedEnd == committedProcessed || (!force && now - lastCommitNanos < REFRESH_NANOS))) {
            return;
        }
        try {
            shared.store().saveOffsets(name, new ScriptStore.Offsets(raw, processedEnd));
            committedRaw = raw;
            committedProcessed = processedEnd;
            lastCommitNanos = now;
        } catch (RuntimeException e) {
            log.error("script={} cannot commit its offset {}: {}", name, raw, e.toString());
        }
    }

    // ---- what others may read ----

    Version version() {
        return version;
    }

    State state() {
        return state;
    }

    String reason() {
        return reason;
    }

    long nextOffset() {
        return nextOffset;
    }

    long versionSince() {
        return versionSince;
    }

    LogRing logs() {
        return logs;
    }

    ScriptInfo.Counters counters() {
        return new ScriptInfo.Counters(in, out, failed, timeLimitStops, memoryLimitStops, duplicatesSkipped);
    }

    ScriptInfo.Failure lastFailure() {
        return lastFailure;
    }

    List<ScriptInfo.Failure> recentFailures() {
        return new ArrayList<>(recentFailures);
    }
}
