package io.junction.core.telemetry;

/**
 * Where aggregates are read from: the raw points ({@code every == 0}) or the rollups of one interval.
 *
 * @param every the rollup interval in nanoseconds; 0 for the raw points
 */
public record Source(long every) {

    public static final Source RAW = new Source(0);

    public Source {
        if (every < 0) {
            throw new IllegalArgumentException("a rollup interval must be positive, got " + every);
        }
    }

    public static Source rollup(long every) {
        if (every <= 0) {
            throw new IllegalArgumentException("a rollup interval must be positive, got " + every);
        }
        return new Source(every);
    }

    public boolean raw() {
        return every == 0;
    }

    @Override
    public String toString() {
        return raw() ? "raw" : "rollup(" + TimeSpans.format(every) + ")";
    }
}
