package io.junction.core.telemetry;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Downsampling and retention, the same for every adapter: advances each rollup level of each rule up to the last
 * whole bucket before now (minus a delay), recomputes the rollups of stretches that got late points, then deletes
 * what the rules no longer keep. Raw points (and finer rollups) are deleted only once the next level has covered
 * them. Each step stores its watermark with its rollups, so a run cut short resumes where it stopped. Not thread-safe:
 * one caller (the scheduler) runs it.
 */
public final class Maintenance {

    /** Buckets computed per series per step, so that one transaction stays small. */
    private static final long STEP_ROWS = 200_000;
    private static final int MAX_BUCKETS_PER_STEP = 1_440;
    private static final int LATE_PER_RUN = 10_000;

    /**
     * What one run did.
     *
     * @param caughtUp false when the run stopped at its step budget with rollups still to compute: run again soon
     */
    public record Report(long rollupRows, int lateStretches, long rawDeleted, long rollupsDeleted, boolean caughtUp) {
    }

    private final TelemetryStore store;
    private final Retention retention;
    private final Clock clock;
    private final long delay;
    private final int stepsPerRun;
    private long trackedBefore = -1;

    /**
     * @param delay       how long after a bucket ends it is downsampled (nanoseconds); points arriving later still
     *                    reach the rollups through the late path
     * @param stepsPerRun the most rollup transactions one run makes
     */
    public Maintenance(TelemetryStore store, Retention retention, Clock clock, long delay, int stepsPerRun) {
        this.store = store;
        this.retention = retention;
        this.clock = clock;
        this.delay = delay;
        this.stepsPerRun = stepsPerRun;
    }

    /** Makes the store track late points behind the stored watermarks; call once after opening it, before writes. */
    public void prepare() {
        long max = 0;
        for (long wm : store.watermarks().values()) {
            max = Math.max(max, wm);
        }
        track(max);
    }

    private void track(long before) {
        if (retention.granularity() > 0 && before > trackedBefore) {
            store.trackLate(before, retention.granularity());
            trackedBefore = before;
        }
    }

    private long now() {
        var i = clock.instant();
        return i.getEpochSecond() * TimeSpans.NS_PER_S + i.getNano();
    }

    public Report runOnce() {
        long now = now();
        Map<RetentionRule, Groups> byRule = group(store.series(SeriesFilter.ALL));
        Map<String, Long> marks = new HashMap<>(store.watermarks());
        long rows = 0;
        int steps = 0;
        boolean caughtUp = true;

        // 1. Advance every level up to the last whole bucket, finest first (a level is computed from the one before).
        for (Map.Entry<RetentionRule, Groups> e : byRule.entrySet()) {
            RetentionRule rule = e.getKey();
            List<Series> numeric = e.getValue().numeric;
            if (numeric.isEmpty()) {
                continue;
            }
            List<RetentionRule.Rollup> levels = rule.rollups();
            for (int k = 0; k < levels.size(); k++) {
                RetentionRule.Rollup level = levels.get(k);
                long every = level.every();
                String name = rule.watermarkName(level);
                Source source = k == 0 ? Source.RAW : Source.rollup(levels.get(k - 1).every());
                long target = TimeSpans.floor(Math.max(0, now - delay), every);
                if (k > 0) {
                    Long previous = marks.get(rule.watermarkName(levels.get(k - 1)));
                    if (previous == null) {
                        break;
                    }
                    target = Math.min(target, TimeSpans.floor(previous, every));
                }
                Long wm = marks.get(name);
                if (wm == null) {
                    OptionalLong oldest = store.oldest(source, numeric);
                    if (oldest.isEmpty()) {
                        break;
                    }
                    wm = TimeSpans.floor(oldest.getAsLong(), every);
                }
                if (wm >= target) {
                    continue;
                }
                // Points written from now on behind the target are late: track them before computing, so none slips
                // between the computation's read and the watermark.
                track(target);
                long step = every * Math.max(1, Math.min(MAX_BUCKETS_PER_STEP, STEP_ROWS / numeric.size()));
                while (wm < target) {
                    if (steps >= stepsPerRun) {
                        caughtUp = false;
                        break;
                    }
                    long end = Math.min(target, wm + step);
                    rows += store.rollup(every, source, numeric, wm, end, Optional.of(new Watermark(name, end)));
                    steps++;
                    wm = end;
                    marks.put(name, end);
                }
            }
        }

        // 2. Recompute the rollups of stretches that got points after they had been downsampled.
        List<LateBucket> late = store.late(LATE_PER_RUN);
        if (!late.isEmpty()) {
            Map<Long, Series> byId = new HashMap<>();
            Map<Long, RetentionRule> ruleOf = new HashMap<>();
            for (Map.Entry<RetentionRule, Groups> e : byRule.entrySet()) {
                for (Series s : e.getValue().numeric) {
                    byId.put(s.id(), s);
                    ruleOf.put(s.id(), e.getKey());
                }
            }
            for (LateBucket lb : late) {
                Series s = byId.get(lb.seriesId());
                if (s == null) {
                    continue;
                }
                RetentionRule rule = ruleOf.get(s.id());
                List<RetentionRule.Rollup> levels = rule.rollups();
                for (int k = 0; k < levels.size(); k++) {
                    RetentionRule.Rollup level = levels.get(k);
                    Long wm = marks.get(rule.watermarkName(level));
                    long bucket = TimeSpans.floor(lb.bucket(), level.every());
                    if (wm == null || bucket >= wm) {
                        break;
                    }
                    long sourceKeep = k == 0 ? rule.raw() : levels.get(k - 1).keep();
                    if (sourceKeep != RetentionRule.FOREVER && bucket < now - sourceKeep) {
                        // The source no longer holds the whole bucket: recomputing would lose what was deleted.
                        break;
                    }
                    Source source = k == 0 ? Source.RAW : Source.rollup(levels.get(k - 1).every());
                    rows += store.rollup(level.every(), source, List.of(s), bucket, bucket + level.every(), Optional.empty());
                }
            }
            store.forgetLate(late);
        }

        // 3. Delete what the rules no longer keep; never what the next level has not covered yet.
        long rawDeleted = 0;
        long rollupsDeleted = 0;
        for (Map.Entry<RetentionRule, Groups> e : byRule.entrySet()) {
            RetentionRule rule = e.getKey();
            Groups g = e.getValue();
            List<RetentionRule.Rollup> levels = rule.rollups();
            if (rule.raw() != RetentionRule.FOREVER && now > rule.raw()) {
                long cutoff = now - rule.raw();
                if (!g.strings.isEmpty()) {
                    rawDeleted += store.delete(Source.RAW, g.strings, cutoff);
                }
                if (!g.numeric.isEmpty()) {
                    long before = levels.isEmpty() ? cutoff : Math.min(TimeSpans.floor(cutoff, levels.getFirst().every()),
                            marks.getOrDefault(rule.watermarkName(levels.getFirst()), 0L));
                    if (before > 0) {
                        rawDeleted += store.delete(Source.RAW, g.numeric, before);
                    }
                }
            }
            if (g.numeric.isEmpty()) {
                continue;
            }
            for (int k = 0; k < levels.size(); k++) {
                RetentionRule.Rollup level = levels.get(k);
                if (level.keep() == RetentionRule.FOREVER || now <= level.keep()) {
                    continue;
                }
                long before = now - level.keep();
                if (k + 1 < levels.size()) {
                    RetentionRule.Rollup next = levels.get(k + 1);
                    before = Math.min(TimeSpans.floor(before, next.every()), marks.getOrDefault(rule.watermarkName(next), 0L));
                }
                if (before > 0) {
                    rollupsDeleted += store.delete(Source.rollup(level.every()), g.numeric, before);
                }
            }
        }
        return new Report(rows, late.size(), rawDeleted, rollupsDeleted, caughtUp);
    }

    private static final class Groups {
        final List<Series> numeric = new ArrayList<>();
        final List<Series> strings = new ArrayList<>();
    }

    private Map<RetentionRule, Groups> group(List<Series> all) {
        Map<RetentionRule, Groups> out = new LinkedHashMap<>();
        for (Series s : all) {
            Optional<RetentionRule> rule = retention.ruleFor(s.key().key());
            if (rule.isEmpty()) {
                continue;
            }
            Groups g = out.computeIfAbsent(rule.get(), r -> new Groups());
            (s.type().numeric() ? g.numeric : g.strings).add(s);
        }
        return out;
    }
}
