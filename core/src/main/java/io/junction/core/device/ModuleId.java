package io.junction.core.device;

import java.util.regex.Pattern;

/** The id of a module: 1 to 64 letters, digits, '_' or '-', as in "display-1". Valid once built. */
public record ModuleId(String value) implements Comparable<ModuleId> {

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    public ModuleId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new IllegalArgumentException("a module id must be 1 to 64 letters, digits, '_' or '-', as in \"display-1\"; got "
                    + (value == null ? "none" : "'" + value + "'"));
        }
    }

    public static ModuleId of(String value) {
        return new ModuleId(value);
    }

    /** Whether {@code value} is a valid module id. */
    public static boolean isValid(String value) {
        return value != null && VALID.matcher(value).matches();
    }

    @Override
    public int compareTo(ModuleId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
