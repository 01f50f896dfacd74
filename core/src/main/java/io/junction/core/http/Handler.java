package io.junction.core.http;

/**
 * Answers one request of a route. It runs on a virtual thread of its own, so it may block. An {@link ApiException}
 * becomes its JSON error; any other exception becomes a 500 whose stack trace is logged.
 */
@FunctionalInterface
public interface Handler {

    ApiResponse handle(ApiRequest request) throws Exception;
}
