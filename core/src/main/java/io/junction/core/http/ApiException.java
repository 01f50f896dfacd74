package io.junction.core.http;

import java.util.Map;
import java.util.Objects;

/**
 * A request that cannot be answered normally, with the HTTP status and the {@code {"error": ..., "detail": ...}} body
 * its sender gets: {@code error} is short and stable (the status' reason phrase, in lower case), {@code detail} is a
 * sentence that says what was wrong and what is expected.
 */
public final class ApiException extends RuntimeException {

    private final int status;
    private final String error;
    private final String detail;
    private final Map<String, String> headers;

    public ApiException(int status, String error, String detail) {
        this(status, error, detail, Map.of());
    }

    public ApiException(int status, String error, String detail, Map<String, String> headers) {
        super(status + " " + error + ": " + detail);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("an ApiException needs a 4xx or 5xx status, got " + status);
        }
        this.status = status;
        this.error = Objects.requireNonNull(error, "error");
        this.detail = Objects.requireNonNull(detail, "detail");
        this.headers = Map.copyOf(headers);
    }

    public static ApiException badRequest(String detail) {
        return new ApiException(400, "bad request", detail);
    }

    public static ApiException notFound(String detail) {
        return new ApiException(404, "not found", detail);
    }

    public static ApiException payloadTooLarge(String detail) {
        return new ApiException(413, "payload too large", detail);
    }

    public int status() {
        return status;
    }

    public String error() {
        return error;
    }

    public String detail() {
        return detail;
    }

    /** Extra response headers, such as {@code Allow} on a 405. */
    public Map<String, String> headers() {
        return headers;
    }

    /** The response its sender gets: {@code {"error": ..., "detail": ...}}. */
    public ApiResponse toResponse() {
        return ApiResponse.error(status, error, detail).withHeaders(headers);
    }
}
