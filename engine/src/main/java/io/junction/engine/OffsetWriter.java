package io.junction.engine;

import io.junction.core.actor.Actor;
import io.junction.core.actor.Request;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Writes where the scripts got to into the state port, off the followers' threads and many at once: a state write
 * waits for the disk, and a follower waiting for it would hold up its script's next messages (with ten scripts
 * committing one after the other, for a good part of a second on a busy disk). Commits that arrive while a write is
 * on its way are written together by the next one. A commit written late only means a crash re-runs a little more,
 * which the output ids make harmless; a clean stop flushes.
 */
final class OffsetWriter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OffsetWriter.class);
    private static final int MAILBOX = 1024;

    /** What the writer is asked to do. */
    sealed interface Command {
    }

    /** Script {@code name} got to {@code offsets}; written with the next write. */
    private record Commit(String name, ScriptStore.Offsets offsets) implements Command {
    }

    /** Write what is pending; the reply comes once it is durable. */
    private record Flush(CompletableFuture<Void> reply) implements Command, Request<Void> {
    }

    private final ScriptStore store;
    private final Actor<Command> actor;
    /** The latest offsets not written yet, by script. Owned by the actor. */
    private final Map<String, ScriptStore.Offsets> pending = new LinkedHashMap<>();

    OffsetWriter(ScriptStore store, Clock clock) {
        this.store = store;
        this.actor = Actor.start("engine-offsets", MAILBOX, clock, this::handle);
    }

    /** Records where script {@code name} got to; waits only when the writer is far behind. */
    void commit(String name, ScriptStore.Offsets offsets) {
        actor.send(new Commit(name, offsets));
    }

    /** Writes what is pending and waits until it is durable. */
    void flush() {
        try {
            actor.ask(Flush::new).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            log.error("the scripts' offsets could not be written: {}", e.getCause().toString());
        }
    }

    private void handle(Command command) {
        switch (command) {
            case Commit c -> {
                pending.put(c.name(), c.offsets());
                if (actor.size() == 0) {
                    write();
                }
            }
            case Flush f -> {
                write();
                if (!pending.isEmpty()) {
                    throw new IllegalStateException("the offsets of " + pending.size() + " scripts are not written");
                }
                f.reply().complete(null);
            }
        }
    }

    private void write() {
        if (pending.isEmpty()) {
            return;
        }
        try {
            store.saveOffsets(pending);
            pending.clear();
        } catch (RuntimeException e) {
            // Kept: written with the next commit or flush.
            log.warn("cannot write the offsets of {} scripts: {}", pending.size(), e.toString());
        }
    }

    /** Flushes, then stops. */
    @Override
    public void close() {
        flush();
        actor.close();
    }
}
