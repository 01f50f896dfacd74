package io.junction.core.http;

import java.util.Locale;
import java.util.Optional;

/**
 * The HTTP methods a route can be registered for. {@code OPTIONS} is for routes that answer browsers' CORS preflights
 * (such as {@code /hls}); {@code HEAD} has no routes of its own: the HTTP endpoint answers it from the {@code GET} route.
 */
public enum Method {
    GET, POST, PUT, DELETE, PATCH, OPTIONS;

    /** The method named {@code text} (any case), or empty when routes cannot be registered for it (HEAD, TRACE, ...). */
    public static Optional<Method> parse(String text) {
        return switch (text.toUpperCase(Locale.ROOT)) {
            case "GET" -> Optional.of(GET);
            case "POST" -> Optional.of(POST);
            case "PUT" -> Optional.of(PUT);
            case "DELETE" -> Optional.of(DELETE);
            case "PATCH" -> Optional.of(PATCH);
            case "OPTIONS" -> Optional.of(OPTIONS);
            default -> Optional.empty();
        };
    }
}
