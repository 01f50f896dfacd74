package io.junction.core.actor;

import java.util.concurrent.CompletableFuture;

/**
 * A command that needs an answer: it carries its reply. The {@link Actor} runtime completes the reply exceptionally
 * when the handler throws, when the mailbox refuses the command and when the actor closes before handling it, so a
 * caller never waits forever. A record component named {@code reply} implements it:
 * {@code record Get(String id, CompletableFuture<View> reply) implements WorkflowCommand, Request<View> {}}.
 */
public interface Request<R> {

    /** Where the answer goes. */
    CompletableFuture<R> reply();
}
