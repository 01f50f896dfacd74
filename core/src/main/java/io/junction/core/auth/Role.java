package io.junction.core.auth;

import java.util.Locale;
import java.util.Optional;

/**
 * What a person (or an API token) may do, from least to most: a {@code user} reads and calls ordinary functions, a
 * {@code support} engineer also calls support functions and changes devices, an {@code administrator} may do anything.
 * Each role includes the ones before it.
 */
public enum Role {
    USER, SUPPORT, ADMINISTRATOR;

    /** Whether this role may do what {@code required} may. */
    public boolean includes(Role required) {
        return ordinal() >= required.ordinal();
    }

    /** The name as written in the API and config: {@code user}, {@code support}, {@code administrator}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Role> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        for (Role r : values()) {
            if (r.id().equals(text.trim().toLowerCase(Locale.ROOT))) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
