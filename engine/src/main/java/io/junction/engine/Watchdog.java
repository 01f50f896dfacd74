package io.junction.engine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Enforces the time and memory limits of script calls. One platform thread looks at every {@link Guard} every few
 * milliseconds: a call it sees running for longer than the time limit, or whose thread allocated more than the memory
 * limit since the call began, is stopped through its runner. GraalVM community edition has no heap limit per context,
 * so allocation is measured per thread ({@code ThreadMXBean.getThreadAllocatedBytes}); the stop itself runs on a
 * virtual thread of its own because stopping a polyglot context waits for it (up to two seconds), and two runaway
 * scripts must be stopped at the same time, not one after the other.
 *
 * <p>The sampling loop is a platform thread rather than an actor's timer: it must keep its few-millisecond pace even
 * when every carrier of the virtual threads is busy, because the memory limit is all that stands between a script
 * that allocates without end and the server's heap.
 */
final class Watchdog implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Watchdog.class);
    private static final long TICK_MILLIS = 5;

    private final long timeLimitNanos;
    private final long memoryLimitBytes;
    private final com.sun.management.ThreadMXBean threads;
    private final CopyOnWriteArrayList<Guard> guards = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean closed;

    Watchdog(long timeLimitMillis, long memoryLimitBytes) {
        this.timeLimitNanos = TimeUnit.MILLISECONDS.toNanos(timeLimitMillis);
        this.memoryLimitBytes = memoryLimitBytes;
        this.threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        if (threads.isThreadAllocatedMemorySupported() && !threads.isThreadAllocatedMemoryEnabled()) {
            threads.setThreadAllocatedMemoryEnabled(true);
        }
        this.thread = Thread.ofPlatform().name("engine-watchdog").daemon(true).start(this::loop);
    }

    /** A guard for the calling thread, watched until {@link #release}. The thread must be a platform thread. */
    Guard guard() {
        Thread t = Thread.currentThread();
        if (t.isVirtual()) {
            throw new IllegalStateException("script calls must run on platform threads: the memory limit cannot be measured on a virtual thread");
        }
        Guard g = new Guard(t, loadTimeLimitNanos());
        guards.add(g);
        return g;
    }

    void release(Guard g) {
        guards.remove(g);
    }

    /** The time limit of loading a script (its top-level code and init): ten times a call's, and at least 10 s. */
    long loadTimeLimitNanos() {
        return Math.max(TimeUnit.SECONDS.toNanos(10), 10 * timeLimitNanos);
    }

    long timeLimitMillis() {
        return TimeUnit.NANOSECONDS.toMillis(timeLimitNanos);
    }

    long memoryLimitBytes() {
        return memoryLimitBytes;
    }

    private void loop() {
        while (!closed) {
            try {
                Thread.sleep(TICK_MILLIS);
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            }
            long now = System.nanoTime();
            for (Guard g : guards) {
                try {
                    check(g, now);
                } catch (RuntimeException e) {
                    log.warn("watchdog check of {} failed: {}", g.thread.getName(), e.toString());
                }
            }
        }
    }

    private void check(Guard g, long now) {
        long seq = g.seq();
        if ((seq & 1) == 0) {
            return;
        }
        long allocated = threads.getThreadAllocatedBytes(g.thread.threadId());
        if (seq != g.seenSeq) {
            // A call we have not seen yet: it began at most one tick ago.
            g.seenSeq = seq;
            g.seenAtNanos = now;
            g.seenAllocated = allocated;
            return;
        }
        Limit limit = null;
        long callLimit = g.timeLimitNanos();
        if (now - g.seenAtNanos > (callLimit > 0 ? callLimit : timeLimitNanos)) {
            limit = Limit.TIME;
        } else if (allocated >= 0 && allocated - g.seenAllocated > memoryLimitBytes) {
            limit = Limit.MEMORY;
        }
        if (limit == null || !g.markStopped(seq, limit)) {
            return;
        }
        Guard.Stoppable s = g.current();
        Limit why = limit;
        log.debug("stopping call {} on {}: {}", seq, g.thread.getName(), why.label);
        // Push the check past the stop so the same call is not stopped twice while it unwinds.
        g.seenAtNanos = Long.MAX_VALUE / 2;
        g.seenAllocated = Long.MAX_VALUE / 2;
        Thread.ofVirtual().name("engine-stop").start(() -> {
            try {
                s.stop(why, g, seq);
            } catch (RuntimeException e) {
                log.warn("stopping a script on {} failed: {}", g.thread.getName(), e.toString());
            }
        });
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
