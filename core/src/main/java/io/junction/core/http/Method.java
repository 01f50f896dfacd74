package io.junction.core.http;

import java.util.Locale;
import java.util.Optional;

/** The HTTP methods a route can be registered for. */
public enum Method {
    GET, POST, PUT, DELETE, PATCH;

    /** The method named {@code text} (any case), or empty when routes cannot be registered for it (HEAD, OPTIONS, ...). */
    public static Optional<Method> parse(String text) {
        return switch (text.toUpperCase(Locale.ROOT)) {
            case "GET" -> Optional.of(GET);
            case "POST" -> Optional.of(POST);
            case "PUT" -> Optional.of(PUT);
            case "DELETE" -> Optional.of(DELETE);
            case "PATCH" -> Optional.of(PATCH);
            default -> Optional.empty();
        };
    }
}
