package io.junction.engine;

import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Re-runs a script over a range of the raw stream into the processed stream, as fast as it can, on a thread and a
 * runner of its own: the live actor of the same script is not touched, so live processing goes on beside it. Its
 * outputs have kind {@code replayed} and ids derived from (script, source offset, output index) in a scope of their
 * own, so replaying the same range again gives byte-identical messages.
 */
final class Replay {

    private static final Logger log = LoggerFactory.getLogger(Replay.class);
    private static final int READ = 4096;

    private final String script;
    private final ScriptSource source;
    private final Runtimes.Compiled compiled;
    private final Host host;
    private final Shared shared;
    private final long from;
    private final long to;
    private final OutputIds ids;
    private final Runnable onDone;
    private final Thread thread;
    private final long startedAt = System.currentTimeMillis();
    /** When messages began to run: after the script was loaded, so the rate is the replay's own. */
    private volatile long startedNanos = System.nanoTime();

    private volatile String state = "running";
    private volatile String error;
    private volatile long position;
    private volatile long matched;
    private volatile long outputs;
    private volatile long failed;
    private volatile long finishedAt;
    private volatile long finishedNanos;
    private volatile boolean cancelled;

    /** @param compiled the script to run; null replays pass-through (copies) */
    Replay(String script, ScriptSource source, Runtimes.Compiled compiled, Host host, Shared shared, long from, long to,
           Runnable onDone) {
        this.script = script;
        this.source = source;
        this.compiled = compiled;
        this.host = host;
        this.shared = shared;
        this.from = from;
        this.to = to;
        this.position = from;
        this.onDone = onDone;
        this.ids = new OutputIds("replay:" + script);
        this.thread = Thread.ofPlatform().name("replay-" + script).daemon(true).unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    void cancel(long waitMillis) {
        cancelled = true;
        try {
            thread.join(waitMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    boolean running() {
        return state.equals("running");
    }

    ReplayInfo info() {
        long end = finishedNanos != 0 ? finishedNanos : System.nanoTime();
        double seconds = Math.max(1e-9, (end - startedNanos) / 1e9);
        return new ReplayInfo(script, state, from, to, position, matched, outputs, failed,
                Math.round((position - from) / seconds), error, Instant.ofEpochMilli(startedAt).toString(),
                finishedAt == 0 ? null : Instant.ofEpochMilli(finishedAt).toString());
    }

    private void run() {
        Guard guard = shared.watchdog().guard();
        Runner runner = null;
        try {
            runner = load(guard);
            startedNanos = System.nanoTime();
            if (runner != null) {
                runner = replay(runner, guard);
            }
        } catch (RuntimeException e) {
            log.error("replay of {} failed: {}", script, e.toString(), e);
            finish("failed", "internal error: " + e);
        } finally {
            if (runner != null) {
                runner.close(guard);
            }
            shared.watchdog().release(guard);
            if (running()) {
                finish(cancelled ? "cancelled" : "done", null);
            }
            shared.publish(new ScriptEvent(script, "replay-finished", 0, state + ": " + (position - from) + " raw messages, "
                    + outputs + " outputs, " + failed + " failed"));
            onDone.run();
        }
    }

    private Runner load(Guard guard) {
        if (compiled == null) {
            return Runtimes.passThrough();
        }
        try {
            return shared.runtimes().instantiate(compiled, host, guard);
        } catch (ScriptRejectedException e) {
            finish("failed", "the script cannot start: " + e.getMessage());
            return null;
        }
    }

    /** Runs the range; returns the runner in use at the end (it may have been reloaded). */
    private Runner replay(Runner runner, Guard guard) {
        Outputs outs = new Outputs();
        List<Message> pending = new ArrayList<>();
        CompletableFuture<Long> last = null;
        int failuresInARow = 0;
        long pos = from;
        while (pos < to && !cancelled) {
            List<StreamEntry> chunk = shared.raw().read(pos, (int) Math.min(READ, to - pos));
            if (chunk.isEmpty()) {
                long start = shared.raw().startOffset();
                if (start > pos) {
                    pos = start;
                    continue;
                }
                break;
            }
            for (StreamEntry e : chunk) {
                if (e.offset() >= to || cancelled) {
                    break;
                }
                if (source.matches(e.message().key())) {
                    matched++;
                    ScriptFailure failure = null;
                    Limit limit = null;
                    for (int attempt = 0; attempt < 2; attempt++) {
                        outs.clear();
                        pending.clear();
                        failure = null;
                        long call = guard.enter(runner);
                        try {
                            runner.process(e, outs);
                            outs.build(e, ids, Outputs.REPLAYED_KIND, pending);
                        } catch (ScriptFailure f) {
                            failure = f;
                        } finally {
                            guard.exit();
                        }
                        limit = guard.stoppedBy(call);
                        boolean stray = failure != null && failure.kind() == ScriptFailure.Cause.STOPPED && limit == null;
                        if (failure != null && failure.broken()) {
                            runner = reload(runner, guard);
                            if (runner == null) {
                                return null;
                            }
                        }
                        if (!stray) {
                            break;
                        }
                    }
                    if (failure == null) {
                        failuresInARow = 0;
                        for (Message m : pending) {
                            last = shared.processed().appendWaiting(m);
                            outputs++;
                        }
                    } else {
                        failed++;
                        if (limit == Limit.MEMORY && !failure.broken()) {
                            runner = reload(runner, guard);
                            if (runner == null) {
                                return null;
                            }
                        }
                        if (++failuresInARow >= shared.failuresBeforeSuspend()) {
                            String why = (limit != null ? "stopped by the " + limit.label : failure.getMessage());
                            finish("failed", "stopped after " + failuresInARow + " failed messages in a row at offset "
                                    + e.offset() + "; the last one: " + why);
                            position = e.offset() + 1;
                            return runner;
                        }
                    }
                }
                pos = e.offset() + 1;
                position = pos;
            }
        }
        if (last != null) {
            try {
                last.join();
            } catch (CompletionException e) {
                finish("failed", "the processed stream refused an output: " + e.getCause());
            }
        }
        return runner;
    }

    private Runner reload(Runner old, Guard guard) {
        old.close(guard);
        Runner r = load(guard);
        if (r == null) {
            return null;
        }
        return r;
    }

    private void finish(String how, String why) {
        error = why;
        finishedAt = System.currentTimeMillis();
        finishedNanos = System.nanoTime();
        state = how;
        if (why != null) {
            log.warn("replay of {} {}: {}", script, how, why);
        } else {
            log.info("replay of {} {}: offsets {}..{}, {} matched, {} outputs, {} failed", script, how, from, position,
                    matched, outputs, failed);
        }
    }
}
