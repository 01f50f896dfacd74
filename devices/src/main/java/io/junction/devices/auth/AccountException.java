package io.junction.devices.auth;

import java.util.Objects;

/**
 * A change to users or tokens that cannot be made, with why in a sentence a person can act on; {@link #reason()} says
 * which kind of failure it is, so the HTTP routes can answer the right status.
 */
public final class AccountException extends RuntimeException {

    /** What kind of failure. */
    public enum Reason {
        /** The input is malformed (a username, a password, a role, a token name). */
        INVALID,
        /** The user or token does not exist. */
        NOT_FOUND,
        /** The change conflicts with what exists (a taken username, the last administrator). */
        CONFLICT
    }

    private final Reason reason;

    public AccountException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
