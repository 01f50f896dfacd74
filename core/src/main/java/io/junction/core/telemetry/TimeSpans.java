package io.junction.core.telemetry;

/**
 * Lengths of time as written in the config and the query API, in nanoseconds: a whole number and a unit, possibly
 * several ({@code 1h30m}). Units: {@code ns us ms s m h d w y} (a year is 365 days).
 */
public final class TimeSpans {

    public static final long NS_PER_MS = 1_000_000L;
    public static final long NS_PER_S = 1_000_000_000L;
    private static final String[] UNITS = {"y", "w", "d", "h", "m", "s", "ms", "us", "ns"};
    private static final long[] SIZES = {365L * 86_400 * NS_PER_S, 7L * 86_400 * NS_PER_S, 86_400 * NS_PER_S,
            3_600 * NS_PER_S, 60 * NS_PER_S, NS_PER_S, NS_PER_MS, 1_000, 1};

    private TimeSpans() {
    }

    /** Parses {@code 90d}, {@code 1m}, {@code 1h30m}, {@code 500ms}; an IllegalArgumentException says what is expected. */
    public static long parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("expected a length of time such as \"1m\", \"7d\" or \"500ms\", got nothing");
        }
        long total = 0;
        int i = 0;
        while (i < text.length()) {
            int start = i;
            while (i < text.length() && Character.isDigit(text.charAt(i))) {
                i++;
            }
            if (i == start || i - start > 15) {
                throw bad(text);
            }
            long n = Long.parseLong(text, start, i, 10);
            int unitStart = i;
            while (i < text.length() && Character.isLetter(text.charAt(i))) {
                i++;
            }
            String unit = text.substring(unitStart, i);
            long size = size(unit);
            if (size == 0) {
                throw bad(text);
            }
            try {
                total = Math.addExact(total, Math.multiplyExact(n, size));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("\"" + text + "\" is too long a time");
            }
        }
        return total;
    }

    private static long size(String unit) {
        for (int u = 0; u < UNITS.length; u++) {
            if (UNITS[u].equals(unit)) {
                return SIZES[u];
            }
        }
        return 0;
    }

    private static IllegalArgumentException bad(String text) {
        return new IllegalArgumentException("\"" + text + "\" is not a length of time: write a whole number and a unit"
                + " (ns, us, ms, s, m, h, d, w, y), such as \"1m\", \"7d\" or \"1h30m\"");
    }

    /** The shortest text for {@code ns}: {@code 60_000_000_000} → {@code 1m}; {@code Long.MAX_VALUE} → {@code forever}. */
    public static String format(long ns) {
        if (ns == Long.MAX_VALUE) {
            return "forever";
        }
        if (ns == 0) {
            return "0s";
        }
        for (int u = 0; u < UNITS.length; u++) {
            // Weeks read worse than days in retention settings ("7d", "90d"): parsed, never written.
            if (ns % SIZES[u] == 0 && !UNITS[u].equals("w")) {
                return (ns / SIZES[u]) + UNITS[u];
            }
        }
        return ns + "ns";
    }

    /** {@code t} rounded down to a multiple of {@code every} (t ≥ 0). */
    public static long floor(long t, long every) {
        return t - Math.floorMod(t, every);
    }

    /** {@code t} rounded up to a multiple of {@code every}, saturating. */
    public static long ceil(long t, long every) {
        long f = floor(t, every);
        if (f == t) {
            return t;
        }
        return f > Long.MAX_VALUE - every ? Long.MAX_VALUE - Math.floorMod(Long.MAX_VALUE, every) : f + every;
    }
}
