package io.junction.core.auth;

import java.util.Objects;

/**
 * Who is calling: an authenticated user and their role. Carried with every API request and WebSocket, and with
 * every exec, so a denied call can be logged with who, what and why.
 */
public record Principal(String user, Role role) {

    /** The engine itself (jobs, startup), which may call anything. */
    public static final Principal SYSTEM = new Principal("junction", Role.ADMINISTRATOR);

    public Principal {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(role, "role");
    }

    public boolean may(Role required) {
        return role.includes(required);
    }
}
