package io.junction.core.actor;

/**
 * Why the runtime failed a {@link Request} that its handler never answered: the mailbox was full, or the actor was
 * closed. The message names the actor and the command.
 */
public final class ActorException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Kind {
        /** The mailbox was full: the actor is overloaded, the caller may try again later. */
        MAILBOX_FULL,
        /** The actor is closed (or closed before it handled the command). */
        CLOSED
    }

    private final Kind kind;

    public ActorException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
