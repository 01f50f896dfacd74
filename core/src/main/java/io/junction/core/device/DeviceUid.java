package io.junction.core.device;

/**
 * The uid of a device: the first level(s) of its MQTT topics and the name its access rules are built on, as in
 * {@code dev42}. Never empty, never containing the MQTT wildcards {@code +} and {@code #}, no white space or control
 * characters, at most 128 characters: a uid of {@code #} would give an access rule that covers everything.
 */
public record DeviceUid(String value) implements Comparable<DeviceUid> {

    public static final int MAX_LENGTH = 128;

    public DeviceUid {
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    public static DeviceUid of(String value) {
        return new DeviceUid(value);
    }

    /** Whether {@code value} is a valid device uid. */
    public static boolean isValid(String value) {
        return problem(value) == null;
    }

    private static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "a device uid must not be empty";
        }
        if (value.length() > MAX_LENGTH) {
            return "a device uid must be at most " + MAX_LENGTH + " characters, got " + value.length();
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '+' || c == '#' || Character.isWhitespace(c) || Character.isISOControl(c)) {
                return "a device uid must not contain '+', '#', white space or control characters, as '" + value.replaceAll("\\p{Cntrl}", "?") + "' does";
            }
        }
        if (value.startsWith("/") || value.endsWith("/") || value.contains("//")) {
            return "a device uid must not start or end with '/' or have an empty level, as '" + value + "' does";
        }
        return null;
    }

    @Override
    public int compareTo(DeviceUid o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
