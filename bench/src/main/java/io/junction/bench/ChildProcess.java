package io.junction.bench;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A server the bench started (Junction, Mosquitto, ...) with its temporary directory. It is stopped — SIGTERM, then
 * SIGKILL after a grace period — and its directory deleted on {@link #close()}, or when the bench itself exits.
 */
final class ChildProcess implements AutoCloseable {

    private final Process process;
    private final Path dir;
    private final long graceSeconds;
    private final Thread hook = new Thread(this::stop, "bench-child-stop");
    private final AtomicBoolean stopped = new AtomicBoolean();

    ChildProcess(Process process, Path dir, long graceSeconds) {
        this.process = process;
        this.dir = dir;
        this.graceSeconds = graceSeconds;
        Runtime.getRuntime().addShutdownHook(hook);
    }

    Process process() {
        return process;
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or will run
        }
        stop();
    }

    /** Stops watching the process without stopping it or deleting its directory (the bench kills it and reuses both). */
    void abandon() {
        stopped.set(true);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or will run
        }
    }

    private void stop() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(graceSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(graceSeconds, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        Net.deleteTree(dir);
    }
}
