package io.junction.core.telemetry;

import io.junction.core.RoutingPattern;

import java.util.List;
import java.util.Objects;

/**
 * How long the series under a routing-key pattern are kept: raw points for {@code raw}, then rollups (count, sum,
 * min, max, first and last per bucket) for longer, such as raw 7 days, 1-minute rollups 90 days, 1-hour rollups 2 years.
 * Each rollup interval is a multiple of the one before (it is computed from it); {@code Long.MAX_VALUE} is "forever".
 *
 * @param raw     how long raw points are kept, in nanoseconds
 * @param rollups from the finest to the coarsest
 */
public record RetentionRule(RoutingPattern keys, long raw, List<Rollup> rollups) {

    public static final long FOREVER = Long.MAX_VALUE;

    /** Rollups of {@code every} kept for {@code keep} (both in nanoseconds). */
    public record Rollup(long every, long keep) {
    }

    public RetentionRule {
        Objects.requireNonNull(keys, "keys");
        rollups = List.copyOf(rollups);
        String problem = problem(raw, rollups);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /** Why these settings cannot work together, or null when they can. */
    public static String problem(long raw, List<Rollup> rollups) {
        if (raw <= 0) {
            return "raw points must be kept for a positive time";
        }
        long previousEvery = 0;
        long previousKeep = raw;
        for (Rollup r : rollups) {
            if (r.every() < TimeSpans.NS_PER_S) {
                return "a rollup interval must be at least 1s, got " + TimeSpans.format(r.every());
            }
            if (previousEvery > 0 && (r.every() <= previousEvery || r.every() % previousEvery != 0)) {
                return "each rollup interval must be a multiple of the one before (it is computed from it): "
                        + TimeSpans.format(r.every()) + " after " + TimeSpans.format(previousEvery);
            }
            if (r.keep() < previousKeep) {
                return "a coarser level must be kept at least as long as the finer one before it: "
                        + TimeSpans.format(r.every()) + " rollups kept " + TimeSpans.format(r.keep()) + " < "
                        + TimeSpans.format(previousKeep);
            }
            previousEvery = r.every();
            previousKeep = r.keep();
        }
        return null;
    }

    /** The name of a level's watermark in the store. */
    public String watermarkName(Rollup level) {
        return "rollup " + keys.value() + " " + TimeSpans.format(level.every());
    }
}
