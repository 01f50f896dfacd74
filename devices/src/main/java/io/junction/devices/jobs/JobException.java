package io.junction.devices.jobs;

import java.util.Objects;

/** A job request that cannot be served, with why; {@link JobRoutes} turns it into the HTTP status of its kind. */
public final class JobException extends RuntimeException {

    /** Why, with the HTTP status the API answers. */
    public enum Kind {
        BAD_REQUEST(400, "bad request"), FORBIDDEN(403, "forbidden"), NOT_FOUND(404, "not found"),
        CONFLICT(409, "conflict"), UNAVAILABLE(503, "service unavailable");

        private final int status;
        private final String error;

        Kind(int status, String error) {
            this.status = status;
            this.error = error;
        }

        public int status() {
            return status;
        }

        public String error() {
            return error;
        }
    }

    private final Kind kind;

    public JobException(Kind kind, String message) {
        super(message);
        this.kind = Objects.requireNonNull(kind, "kind");
    }

    public Kind kind() {
        return kind;
    }
}
