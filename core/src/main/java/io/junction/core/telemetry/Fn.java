package io.junction.core.telemetry;

import java.util.Locale;
import java.util.Optional;

/** The aggregate functions of bucketed queries. */
public enum Fn {
    MEAN, MIN, MAX, SUM, COUNT, FIRST, LAST;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the function can be applied to string series (only counting and picking a value can). */
    public boolean appliesToStrings() {
        return this == COUNT || this == FIRST || this == LAST;
    }

    public static Optional<Fn> parse(String s) {
        for (Fn f : values()) {
            if (f.label().equals(s)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }
}
