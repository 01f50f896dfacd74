package io.junction.engine;

/**
 * The watchdog's view of one thread that calls into scripts (an engine worker, a replay, the loader). The thread
 * marks each call with {@link #enter}/{@link #exit}: two volatile writes, so the per-message cost stays tiny; the
 * {@link Watchdog} measures the time and the allocation of a call from outside and stops it when it passes a limit.
 */
final class Guard {

    /** What the watchdog stops: the runner making the call. */
    interface Stoppable {
        /** Stops call {@code call} of {@code guard}'s thread because of {@code limit}; called from another thread. */
        void stop(Limit limit, Guard guard, long call);
    }

    final Thread thread;
    /** Odd while a call runs; each call moves it by two. Written only by {@link #thread}. */
    private volatile long seq;
    private volatile Stoppable current;
    /** The time limit of the current call in nanoseconds; 0 means the watchdog's own. */
    private volatile long timeLimitNanos;
    /** The call the watchdog stopped, and why. */
    private volatile long stoppedSeq = -1;
    private volatile Limit stoppedBy;

    // Owned by the watchdog thread.
    long seenSeq = -1;
    long seenAtNanos;
    long seenAllocated;

    private final long loadTimeLimitNanos;

    Guard(Thread thread, long loadTimeLimitNanos) {
        this.thread = thread;
        this.loadTimeLimitNanos = loadTimeLimitNanos;
    }

    /** Marks the start of loading a script (top-level code, init), which has a longer time limit than a message. */
    long enterLoading(Stoppable s) {
        return enter(s, loadTimeLimitNanos);
    }

    /** Marks the start of a call of {@code s} under the watchdog's limits; returns the call's number. */
    long enter(Stoppable s) {
        return enter(s, 0);
    }

    /**
     * Marks the start of a call of {@code s} that may run for {@code timeLimitNanos} (0: the watchdog's limit), as
     * loading a script may: its top-level code and imports run once, and GraalPy's first imports are slow.
     */
    long enter(Stoppable s, long timeLimitNanos) {
        current = s;
        this.timeLimitNanos = timeLimitNanos;
        long next = seq + 1;
        seq = next;
        return next;
    }

    /**
     * Marks the end of the call. Locked against {@link #stopIfStill} so that an interrupt meant for this call cannot
     * land after it, on whatever the thread does next (file writes close on interrupt).
     */
    void exit() {
        synchronized (this) {
            seq = seq + 1;
            Thread.interrupted();
        }
    }

    long seq() {
        return seq;
    }

    long timeLimitNanos() {
        return timeLimitNanos;
    }

    Stoppable current() {
        return current;
    }

    /** The limit that stopped call {@code call}, or null when the watchdog did not stop it. */
    Limit stoppedBy(long call) {
        return stoppedSeq == call ? stoppedBy : null;
    }

    /** Called by the watchdog: records that call {@code call} is stopped for {@code limit}, if it still runs. */
    synchronized boolean markStopped(long call, Limit limit) {
        if (seq != call) {
            return false;
        }
        stoppedBy = limit;
        stoppedSeq = call;
        return true;
    }

    /** Interrupts the thread only if call {@code call} still runs (used by runtimes that stop on Thread.interrupt). */
    synchronized void interruptIfStill(long call) {
        if (seq == call) {
            thread.interrupt();
        }
    }
}
