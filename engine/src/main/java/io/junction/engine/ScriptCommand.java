package io.junction.engine;

import io.junction.core.actor.Request;
import io.junction.core.stream.StreamEntry;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What a {@link ScriptActor} is asked to do. */
sealed interface ScriptCommand {

    /** Load the runner when none was given and learn which outputs are already appended; always the first command. */
    record Start() implements ScriptCommand {
    }

    /**
     * Run a batch of the follower of generation {@code generation} from index {@code from} on; the reply comes when every
     * entry is done (a suspended script holds it until a new version is stored).
     */
    record Run(long generation, List<StreamEntry> entries, int from, CompletableFuture<Void> reply)
            implements ScriptCommand, Request<Void> {
    }

    /** Run {@code version} from the next message on, with {@code runner} already loaded; resumes a suspended script. */
    record Replace(ScriptActor.Version version, Runner runner, Host host, CompletableFuture<Long> reply)
            implements ScriptCommand, Request<Long> {
    }

    /** Re-run raw offsets {@code from}..{@code to} on a runner of its own, beside live processing. */
    record StartReplay(long from, long to, CompletableFuture<ReplayInfo> reply) implements ScriptCommand, Request<ReplayInfo> {
    }

    /** The script as it is now: with its source, logs and recent errors when {@code full}. */
    record Status(boolean full, CompletableFuture<ScriptInfo> reply) implements ScriptCommand, Request<ScriptInfo> {
    }

    /**
     * Stop after the message in hand: cancel the replay, free the runner, and hold the offset where processing stopped;
     * the reply is the follower to close (which commits that offset).
     */
    record Stop(CompletableFuture<io.junction.core.stream.StreamFollower> reply)
            implements ScriptCommand, Request<io.junction.core.stream.StreamFollower> {
    }
}
