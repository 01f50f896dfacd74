package io.junction.core.http;

import io.junction.core.auth.Role;

import java.util.Optional;

/**
 * Who may call a route. {@code OPEN} routes need no token (health, metrics, login, firmware downloads by devices);
 * the others need a token whose role includes the one named.
 */
public enum Access {
    OPEN(null), USER(Role.USER), SUPPORT(Role.SUPPORT), ADMINISTRATOR(Role.ADMINISTRATOR);

    private final Role role;

    Access(Role role) {
        this.role = role;
    }

    /** The least role the route needs; empty for {@code OPEN}. */
    public Optional<Role> role() {
        return Optional.ofNullable(role);
    }

    /**
     * The default of a route registered without one: reading needs a user, changing needs support, and a CORS
     * preflight ({@code OPTIONS}) is open because browsers send it without credentials.
     */
    public static Access defaultFor(Method method) {
        return switch (method) {
            case GET -> USER;
            case OPTIONS -> OPEN;
            default -> SUPPORT;
        };
    }
}
