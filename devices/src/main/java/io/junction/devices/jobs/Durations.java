package io.junction.devices.jobs;

import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as jobs write them: {@code 250ms}, {@code 5s}, {@code 5m}, {@code 1h}, {@code 1d}, or a sum such as {@code 1h30m}. */
final class Durations {

    /** The longest a job may take in all: a year and a day. */
    static final long MAX_MILLIS = 366L * 24 * 3_600_000;

    static final String EXPECTED = "a duration such as \"250ms\", \"5s\", \"5m\", \"1h\", \"1d\" or \"1h30m\"";

    private static final Pattern PART = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

    private Durations() {
    }

    /** The milliseconds {@code text} stands for; empty when it is not a duration or longer than {@link #MAX_MILLIS}. */
    static OptionalLong parse(String text) {
        String s = text.trim();
        if (s.isEmpty()) {
            return OptionalLong.empty();
        }
        Matcher m = PART.matcher(s);
        long total = 0;
        int at = 0;
        while (at < s.length()) {
            if (!m.find(at) || m.start() != at) {
                return OptionalLong.empty();
            }
            long n = Long.parseLong(m.group(1));
            long unit = switch (m.group(2)) {
                case "ms" -> 1;
                case "s" -> 1_000;
                case "m" -> 60_000;
                case "h" -> 3_600_000;
                default -> 86_400_000;
            };
            total += n * unit;
            if (total > MAX_MILLIS) {
                return OptionalLong.empty();
            }
            at = m.end();
        }
        return OptionalLong.of(total);
    }
}
