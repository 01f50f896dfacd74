package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.actor.Request;
import io.junction.core.auth.Principal;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * What the {@link Jobs} actor is asked to do, told has happened, or reminded of by one of its timers. A command that
 * answers is a {@link Request}: the runtime fails its reply when the handler throws, the mailbox is full or the actor
 * has closed.
 */
sealed interface JobCommand {

    /** Bring back every job that was running or stopping when the server stopped (the first command after start). */
    record Recover(CompletableFuture<Void> reply) implements JobCommand, Request<Void> {
    }

    /** Start a job whose module, definition, arguments and caller's role have been checked. */
    record Create(JobDefinition definition, String module, String driver, ObjectNode values, Principal caller,
                  CompletableFuture<JobView> reply) implements JobCommand, Request<JobView> {
    }

    /** A job's start record is durable ({@code error} empty), or could not be written. */
    record Recorded(String id, Optional<Throwable> error) implements JobCommand {
    }

    /** A step's begun record is durable, so it may run; or it could not be written, so it must not. */
    record Begun(String id, int step, Optional<Throwable> error) implements JobCommand {
    }

    /** A step's call answered. */
    record StepAnswered(String id, int step, Optional<JsonNode> result, Optional<Throwable> error) implements JobCommand {
    }

    /** The re-apply of a job's current step after a restart answered. */
    record Reapplied(String id, int step, Optional<JsonNode> result, Optional<Throwable> error) implements JobCommand {
    }

    /** One of a job's neutral calls answered. */
    record NeutralAnswered(String id, int index, Optional<JsonNode> result, Optional<Throwable> error) implements JobCommand {
    }

    /**
     * A timer: job {@code id}'s next step, or its deadline, is due. A job has at most one such timer; the command is
     * also its tag, so scheduling the job again replaces it.
     */
    record StepDue(String id) implements JobCommand {
    }

    /** Cancel a job on behalf of {@code by}; the reply comes when it has ended. */
    record Cancel(String id, Principal by, CompletableFuture<JobView> reply) implements JobCommand, Request<JobView> {
    }

    /** A module is stopping: end its jobs in their neutral state; the reply comes when they have ended. */
    record ModuleStopping(String module, CompletableFuture<Void> reply) implements JobCommand, Request<Void> {
    }

    /** One job as it is now. */
    record Get(String id, CompletableFuture<Optional<JobView>> reply) implements JobCommand, Request<Optional<JobView>> {
    }

    /** The jobs that match, newest first. */
    record Find(Query query, CompletableFuture<List<JobView>> reply) implements JobCommand, Request<List<JobView>> {
    }

    /** The server shuts down: finish calls in flight, run every running job's neutral calls, keep the jobs resumable. */
    record Shutdown(CompletableFuture<Void> reply) implements JobCommand, Request<Void> {
    }

    /** A timer (and its own tag): the shutdown's time for calls in flight to answer has run out. */
    record DrainOver() implements JobCommand {
    }

    /** A timer (and its own tag): the shutdown's time for neutral calls to answer has run out. */
    record NeutralOver() implements JobCommand {
    }

    /** Which jobs {@link Find} lists: of one state and one module when given, at most {@code limit}. */
    record Query(Optional<JobState> state, Optional<String> module, int limit) {
    }
}
