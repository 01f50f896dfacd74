package io.junction.devices.auth;

import io.junction.core.config.Section;

import java.util.Optional;

/**
 * Users and tokens ({@code [auth]}).
 *
 * @param adminPassword the password of the {@code admin} user created on first start: {@code JUNCTION_ADMIN_PASSWORD}
 *                      from the environment, else {@code [auth] admin_password} (or {@code admin_password_env});
 *                      empty means a generated one is printed once
 * @param tokenTtlHours how long a token from {@code POST /api/auth/login} is valid
 */
public record AuthSettings(Optional<String> adminPassword, long tokenTtlHours) {

    public static AuthSettings defaults() {
        return new AuthSettings(Optional.empty(), 24 * 30);
    }

    /** Reads {@code [auth]} from the root table, and the environment of the file; absent means the defaults. */
    public static AuthSettings read(Section root) {
        AuthSettings d = defaults();
        Section auth = root.table("auth");
        Optional<String> fromFile = auth.secret("admin_password");
        Optional<String> password = root.env("JUNCTION_ADMIN_PASSWORD").or(() -> fromFile);
        if (password.isPresent() && password.get().length() < 8) {
            throw auth.error("admin_password", "the administrator's password needs at least 8 characters");
        }
        long ttl = auth.integer("token_ttl_hours", d.tokenTtlHours(), 1, 24L * 365 * 10);
        auth.finish();
        return new AuthSettings(password, ttl);
    }
}
