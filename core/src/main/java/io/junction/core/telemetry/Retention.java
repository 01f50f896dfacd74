package io.junction.core.telemetry;

import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;

import java.util.List;
import java.util.Optional;

/**
 * The retention rules in force: each series follows the first rule whose pattern matches its routing key; a series
 * that matches none is kept forever without rollups.
 */
public final class Retention {

    /** Raw points for 7 days, 1-minute rollups for 90 days, 1-hour rollups for 2 years, for every key. */
    public static final Retention DEFAULT = new Retention(List.of(new RetentionRule(RoutingPattern.ALL,
            7 * 86_400 * TimeSpans.NS_PER_S,
            List.of(new RetentionRule.Rollup(60 * TimeSpans.NS_PER_S, 90L * 86_400 * TimeSpans.NS_PER_S),
                    new RetentionRule.Rollup(3_600 * TimeSpans.NS_PER_S, 2 * 365L * 86_400 * TimeSpans.NS_PER_S)))));

    /** Nothing is ever deleted or downsampled. */
    public static final Retention KEEP_ALL = new Retention(List.of());

    private final List<RetentionRule> rules;
    private final long granularity;

    public Retention(List<RetentionRule> rules) {
        this.rules = List.copyOf(rules);
        long g = 0;
        for (RetentionRule r : this.rules) {
            for (RetentionRule.Rollup level : r.rollups()) {
                g = g == 0 ? level.every() : gcd(g, level.every());
            }
        }
        this.granularity = g;
    }

    public List<RetentionRule> rules() {
        return rules;
    }

    public Optional<RetentionRule> ruleFor(RoutingKey key) {
        for (RetentionRule r : rules) {
            if (r.keys().matches(key)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /**
     * The greatest common divisor of every rollup interval (0 when there are none): the width of the stretches in
     * which late points are tracked, so that one late stretch lies inside one bucket of every level.
     */
    public long granularity() {
        return granularity;
    }

    /**
     * The oldest time a new raw point of {@code key} may have at {@code now} (both nanoseconds): older points would
     * be deleted at once, so they are refused, as InfluxDB drops points beyond its retention policy. It is rounded
     * down to the first rollup interval, so that a late point's whole rollup bucket is still in the raw points.
     */
    public long rawCutoff(RoutingKey key, long now) {
        Optional<RetentionRule> rule = ruleFor(key);
        if (rule.isEmpty() || rule.get().raw() == RetentionRule.FOREVER || now <= rule.get().raw()) {
            return 0;
        }
        long cutoff = now - rule.get().raw();
        List<RetentionRule.Rollup> levels = rule.get().rollups();
        return levels.isEmpty() ? cutoff : TimeSpans.floor(cutoff, levels.getFirst().every());
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }
}
