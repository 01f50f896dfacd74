package io.junction.devices.driver;

import java.util.Objects;

/**
 * A function call (or a binding) that cannot be served, with the reason its caller gets. The codes are those of the
 * real-time WebSocket protocol; REST maps them to HTTP statuses.
 */
public final class ExecException extends RuntimeException {

    /** Why a request failed, with its WebSocket error code and HTTP status. */
    public enum Code {
        PARSE_ERROR(0, 400), BAD_REQUEST(1, 400), ACCESS_DENIED(2, 403), REQUEST_FAILED(3, 502), UNKNOWN_COMMAND(4, 400),
        SYSTEM_NOT_FOUND(5, 404), MODULE_NOT_FOUND(6, 404), UNEXPECTED_FAILURE(7, 500);

        private final int wire;
        private final int http;

        Code(int wire, int http) {
            this.wire = wire;
            this.http = http;
        }

        public int wire() {
            return wire;
        }

        public int http() {
            return http;
        }
    }

    private final Code code;

    public ExecException(Code code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
    }

    public ExecException(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    public Code code() {
        return code;
    }
}
