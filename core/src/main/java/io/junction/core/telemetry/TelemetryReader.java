package io.junction.core.telemetry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Answers telemetry queries on any adapter: picks for each stretch of the range the coarsest source that holds it
 * (rollups for what was downsampled, raw points for the rest), merges the partial aggregates, and refuses queries
 * whose size would exhaust memory, with a sentence that says what to change.
 */
public final class TelemetryReader {

    /**
     * @param maxSeries  series one query may touch
     * @param maxBuckets buckets (series × buckets per series) one aggregate query may return
     * @param maxPoints  raw points one query may return
     */
    public record Limits(int maxSeries, long maxBuckets, int maxPoints) {
        public static final Limits DEFAULT = new Limits(10_000, 1_000_000, 100_000);
    }

    /** The values of one series: bucket starts (or point times) with their values, in time order. */
    public record SeriesData(Series series, List<Sample> samples) {
    }

    /** A query the reader will not run; the message says why and what to change (an HTTP 400). */
    public static final class Refused extends RuntimeException {
        public Refused(String message) {
            super(message);
        }
    }

    private final TelemetryStore store;
    private final Retention retention;
    private final Limits limits;

    public TelemetryReader(TelemetryStore store, Retention retention, Limits limits) {
        this.store = store;
        this.retention = retention;
        this.limits = limits;
    }

    public Limits limits() {
        return limits;
    }

    /** The series that match, refused when there are more than the limit. */
    public List<Series> series(SeriesFilter filter) {
        List<Series> found = store.series(filter);
        if (found.size() > limits.maxSeries()) {
            throw new Refused("the key pattern matches " + found.size() + " series, more than the limit of "
                    + limits.maxSeries() + ": narrow the pattern, or give a field or tags");
        }
        return found;
    }

    /** The newest value of each matching series. */
    public List<SeriesData> last(SeriesFilter filter) {
        List<Series> series = series(filter);
        Map<Long, Sample> byId = new HashMap<>();
        for (Sample s : store.last(series)) {
            byId.put(s.seriesId(), s);
        }
        List<SeriesData> out = new ArrayList<>();
        for (Series s : series) {
            Sample sample = byId.get(s.id());
            if (sample != null) {
                out.add(new SeriesData(s, List.of(sample)));
            }
        }
        return out;
    }

    /** Raw points in {@code [from, to)}, refused when there are more than {@code limit} (at most the configured limit). */
    public List<SeriesData> raw(SeriesFilter filter, long from, long to, int limit) {
        checkRange(from, to);
        int max = Math.min(limit, limits.maxPoints());
        List<Series> series = series(filter);
        List<Sample> samples = store.raw(series, from, to, max + 1);
        if (samples.size() > max) {
            throw new Refused("the query matches more than " + max + " points: narrow the time range or the key pattern,"
                    + " raise limit (at most " + limits.maxPoints() + "), or aggregate with every=... and fn=...");
        }
        Map<Long, List<Sample>> byId = new LinkedHashMap<>();
        for (Sample s : samples) {
            byId.computeIfAbsent(s.seriesId(), k -> new ArrayList<>()).add(s);
        }
        List<SeriesData> out = new ArrayList<>();
        for (Series s : series) {
            List<Sample> list = byId.get(s.id());
            if (list != null) {
                out.add(new SeriesData(s, list));
            }
        }
        return out;
    }

    /**
     * {@code fn} over buckets of {@code every} nanoseconds. Buckets are multiples of {@code every} since the epoch;
     * {@code from} is rounded down and {@code to} up to whole buckets. Empty buckets are left out.
     */
    public List<SeriesData> aggregate(SeriesFilter filter, long from, long to, long every, Fn fn) {
        if (every <= 0) {
            throw new Refused("every must be a positive length of time, such as 1m");
        }
        checkRange(from, to);
        long start = TimeSpans.floor(from, every);
        long end = TimeSpans.ceil(to, every);
        List<Series> series = series(filter);
        long perSeries = (end - start) / every + (((end - start) % every) == 0 ? 0 : 1);
        if (!series.isEmpty() && perSeries > limits.maxBuckets() / series.size()) {
            throw new Refused("the query asks for " + perSeries + " buckets of " + TimeSpans.format(every) + " for each of "
                    + series.size() + " series, more than the limit of " + limits.maxBuckets()
                    + " buckets: use a longer every, a shorter time range or a narrower key pattern");
        }
        if (!fn.appliesToStrings()) {
            for (Series s : series) {
                if (!s.type().numeric()) {
                    throw new Refused("fn=" + fn.label() + " needs numbers, but field '" + s.key().field() + "' of "
                            + s.key().key() + (s.key().tags().isEmpty() ? "" : " {" + s.key().tags() + "}")
                            + " holds strings: use fn=count, first or last (or raw), or narrow the query");
                }
            }
        }
        // Group the series by the sources that can answer them: the rollup levels of their rule that divide every.
        Map<Plan, List<Series>> groups = new LinkedHashMap<>();
        for (Series s : series) {
            List<Long> levels = new ArrayList<>();
            List<String> marks = new ArrayList<>();
            Optional<RetentionRule> rule = retention.ruleFor(s.key().key());
            if (rule.isPresent() && s.type().numeric()) {
                for (RetentionRule.Rollup level : rule.get().rollups()) {
                    if (every % level.every() != 0) {
                        break;
                    }
                    levels.add(level.every());
                    marks.add(rule.get().watermarkName(level));
                }
            }
            groups.computeIfAbsent(new Plan(levels, marks), k -> new ArrayList<>()).add(s);
        }
        Map<String, Long> watermarks = store.watermarks();
        Map<Long, TreeMap<Long, Aggregate>> merged = new HashMap<>();
        for (Map.Entry<Plan, List<Series>> g : groups.entrySet()) {
            Plan plan = g.getKey();
            long lower = start;
            // Coarsest level first: it holds the oldest stretch; each finer level holds what comes after it.
            for (int k = plan.levels.size() - 1; k >= 0 && lower < end; k--) {
                Long wm = watermarks.get(plan.marks.get(k));
                if (wm == null) {
                    continue;
                }
                long upper = Math.min(end, wm);
                if (upper > lower) {
                    collect(merged, store.aggregate(Source.rollup(plan.levels.get(k)), g.getValue(), lower, upper, every, fn));
                    lower = upper;
                }
            }
            if (lower < end) {
                collect(merged, store.aggregate(Source.RAW, g.getValue(), lower, end, every, fn));
            }
        }
        List<SeriesData> out = new ArrayList<>();
        for (Series s : series) {
            TreeMap<Long, Aggregate> buckets = merged.get(s.id());
            if (buckets == null) {
                continue;
            }
            List<Sample> samples = new ArrayList<>(buckets.size());
            for (Aggregate a : buckets.values()) {
                if (a.count() == 0) {
                    continue;
                }
                samples.add(new Sample(s.id(), a.bucket(), valueOf(s.type(), fn, a)));
            }
            out.add(new SeriesData(s, samples));
        }
        return out;
    }

    /** The rollup intervals (finest first) that can answer a group of series, with their watermarks' names. */
    private record Plan(List<Long> levels, List<String> marks) {
    }

    private static void collect(Map<Long, TreeMap<Long, Aggregate>> into, List<Aggregate> partials) {
        for (Aggregate a : partials) {
            into.computeIfAbsent(a.seriesId(), k -> new TreeMap<>()).merge(a.bucket(), a, Aggregate::merge);
        }
    }

    private static FieldValue valueOf(FieldType type, Fn fn, Aggregate a) {
        if (type == FieldType.STRING && (fn == Fn.FIRST || fn == Fn.LAST)) {
            return FieldValue.of(fn == Fn.FIRST ? a.firstText() : a.lastText());
        }
        double v = a.value(fn);
        return switch (fn) {
            case COUNT -> FieldValue.of(a.count());
            case MEAN -> FieldValue.of(v);
            case SUM -> type == FieldType.INTEGER ? FieldValue.of((long) v) : FieldValue.of(v);
            case MIN, MAX, FIRST, LAST -> FieldValue.fromDouble(type, v);
        };
    }

    private static void checkRange(long from, long to) {
        if (from < 0 || to <= from) {
            throw new Refused("the time range is empty: from must be before to");
        }
    }
}
