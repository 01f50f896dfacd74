package io.junction.engine;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The platform threads script code runs on, each watched by the {@link Watchdog} through a guard of its own. Script
 * calls need platform threads because the memory limit is measured per thread, which a virtual thread cannot be.
 * Actors (on virtual threads) lend their work to these threads and wait for it: the work touches only the lending
 * actor's state, and the actor does nothing else meanwhile, so the state stays confined to one actor at a time.
 *
 * <p>The queue is first in, first out, so the engine's {@code threads} are shared fairly: a script that used its time
 * slice queues again behind the others. Its bound is far above what can wait at once (each actor lends one piece of
 * work at a time).
 */
final class Workers implements AutoCloseable {

    /** Work done on a worker, inside that worker's guard. */
    @FunctionalInterface
    interface Work<T> {
        T run(Guard guard);
    }

    private static final int QUEUE = 10_000;

    private final ThreadPoolExecutor pool;
    private final ThreadLocal<Guard> guards = new ThreadLocal<>();

    Workers(String name, int threads, Watchdog watchdog) {
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(QUEUE),
                r -> Thread.ofPlatform().name(name + "-" + n.incrementAndGet()).daemon(true).unstarted(() -> {
                    Guard g = watchdog.guard();
                    guards.set(g);
                    try {
                        r.run();
                    } finally {
                        watchdog.release(g);
                    }
                }));
    }

    /**
     * Runs {@code work} on a worker and returns its result, or throws what it threw. Waits for the work to end even
     * when interrupted (the interrupt is kept), so the caller never goes on while its work still runs.
     */
    <T> T call(Work<T> work) {
        Future<T> f;
        try {
            f = pool.submit(() -> work.run(guards.get()));
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException(pool.isShutdown() ? "the engine is stopping" : "the engine is overloaded", e);
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof RuntimeException r) {
                        throw r;
                    }
                    if (c instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(c.toString(), c);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
