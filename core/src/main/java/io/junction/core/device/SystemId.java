package io.junction.core.device;

import java.util.regex.Pattern;

/** The id of a system: 1 to 64 letters, digits, '_' or '-', as in "room-101". Valid once built. */
public record SystemId(String value) implements Comparable<SystemId> {

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    public SystemId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new IllegalArgumentException("a system id must be 1 to 64 letters, digits, '_' or '-', as in \"room-101\"; got "
                    + (value == null ? "none" : "'" + value + "'"));
        }
    }

    public static SystemId of(String value) {
        return new SystemId(value);
    }

    /** Whether {@code value} is a valid system id. */
    public static boolean isValid(String value) {
        return value != null && VALID.matcher(value).matches();
    }

    @Override
    public int compareTo(SystemId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
