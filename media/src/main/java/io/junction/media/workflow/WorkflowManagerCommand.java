package io.junction.media.workflow;

import io.junction.core.actor.Request;
import io.junction.media.reactor.SimpleHttpExecutor;
import io.junction.media.rtmp.MediaSink;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * What the {@link WorkflowManager} actor is asked to do, or told has happened. Sessions (live publishes) are named by
 * the number the manager gave them, so a command about a publish that has ended meanwhile finds nothing.
 */
sealed interface WorkflowManagerCommand {

    /** Start the workflows defined through the API that the state port keeps; answers how many. */
    record Restore(CompletableFuture<Integer> reply) implements WorkflowManagerCommand, Request<Integer> {
    }

    /** Create or update a workflow from {@code source} ({@code api}, {@code config}); answers its view once applied. */
    record Put(WorkflowDefinition definition, String source, CompletableFuture<Map<String, Object>> reply)
            implements WorkflowManagerCommand, Request<Map<String, Object>> {
    }

    /** Stop and forget a workflow; answers whether there was one. */
    record Remove(String name, CompletableFuture<Boolean> reply) implements WorkflowManagerCommand, Request<Boolean> {
    }

    /** Every workflow's view, by name. */
    record ListAll(CompletableFuture<List<Map<String, Object>>> reply)
            implements WorkflowManagerCommand, Request<List<Map<String, Object>>> {
    }

    /** One workflow's view, if there is one of that name. */
    record Get(String name, CompletableFuture<Optional<Map<String, Object>>> reply)
            implements WorkflowManagerCommand, Request<Optional<Map<String, Object>>> {
    }

    /**
     * A client wants to publish {@code key} on {@code app}; answers where its media goes, or fails with
     * {@link io.junction.media.rtmp.RtmpGate.Refused}. {@code close} is the endpoint's way to end the publish.
     */
    record Publish(String app, String key, String remote, Runnable close, CompletableFuture<MediaSink> reply)
            implements WorkflowManagerCommand, Request<MediaSink> {
    }

    /** The publisher of session {@code session} stopped. */
    record Unpublished(long session) implements WorkflowManagerCommand {
    }

    /** Ask the session's reactor which workflows its stream needs (try {@code attempt} of this question). */
    record AskReactor(long session, int attempt) implements WorkflowManagerCommand {
    }

    /**
     * The publisher grace period of stream {@code id} ({@code app/key}) is over: the reactor workflows its last
     * publish left behind go, unless a new publish took them.
     */
    record GraceOver(String id) implements WorkflowManagerCommand {
    }

    /** The session's reactor answered try {@code attempt}. */
    record ReactorAnswered(long session, int attempt, SimpleHttpExecutor.Answer answer) implements WorkflowManagerCommand {
    }
}
