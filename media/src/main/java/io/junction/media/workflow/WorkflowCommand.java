package io.junction.media.workflow;

import io.junction.core.actor.Request;
import io.junction.media.rtmp.MediaPacket;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * What a {@link Workflow} actor is asked to do, or told has happened to its streams. A stream command's
 * {@code generation} is -1 when it comes from outside the workflow (then {@code from} says where it enters), or the
 * step instance that produced it (then it enters after wherever that step is now, and {@code from} is not used), so
 * that what a stopped or replaced step still produces is dropped.
 */
sealed interface WorkflowCommand {

    /** Run this definition (restarting the steps that differ from the current ones); answers whether anything changed. */
    record Apply(WorkflowDefinition definition, String source, CompletableFuture<Boolean> reply)
            implements WorkflowCommand, Request<Boolean> {
    }

    /** Stop every step for good and publish that on the hub; answers once they are stopped. */
    record Stop(CompletableFuture<Void> reply) implements WorkflowCommand, Request<Void> {
    }

    /** A stream begins at step {@code from} (or {@link Workflow#AT_RECEIVE}); {@code origin} says where it comes from. */
    record StreamStart(String stream, String app, int from, int generation, String origin) implements WorkflowCommand {
    }

    /** A packet of a stream, entering at step {@code from}. */
    record Media(String stream, int from, int generation, MediaPacket packet) implements WorkflowCommand {
    }

    /** A stream ends at step {@code from}. */
    record StreamEnd(String stream, int from, int generation) implements WorkflowCommand {
    }

    /** The workflow as the API shows it. */
    record Snapshot(CompletableFuture<Map<String, Object>> reply) implements WorkflowCommand, Request<Map<String, Object>> {
    }

    /** The timer the step instance {@code step} asked for ({@link Step.Output#retryLater}) is due. */
    record RetryStep(int step) implements WorkflowCommand {
    }
}
