package io.junction.core.telemetry;

import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.testing.MutableClock;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The behaviour every telemetry adapter must have. Each adapter's test extends this class and opens its store; the
 * same tests then run against the embedded store and against a real PostgreSQL server. They drive the store through
 * the engine-neutral {@link TelemetryReader} and {@link Maintenance} as the server does.
 */
public abstract class TelemetryStoreContract {

    protected static final long S = TimeSpans.NS_PER_S;
    protected static final long MIN = 60 * S;
    protected static final long HOUR = 3_600 * S;
    protected static final long DAY = 86_400 * S;
    /** 2026-01-01T00:00:00Z in nanoseconds. */
    protected static final long T0 = 1_767_225_600L * S;

    private final List<TelemetryStore> opened = new ArrayList<>();

    /** Opens this test's store; a second call after closing the first opens the same data again. */
    protected abstract TelemetryStore openStore();

    protected final TelemetryStore open() {
        TelemetryStore s = openStore();
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeStores() {
        for (TelemetryStore s : opened) {
            s.close();
        }
    }

    protected static SeriesKey key(String key, String device, String field) {
        return new SeriesKey(RoutingKey.of(key), device == null ? Tags.EMPTY : Tags.of(Tags.DEVICE, device), field);
    }

    protected static Point p(SeriesKey s, long ts, double v) {
        return new Point(s, ts, FieldValue.of(v));
    }

    private static TelemetryReader reader(TelemetryStore store, Retention retention) {
        return new TelemetryReader(store, retention, TelemetryReader.Limits.DEFAULT);
    }

    private static List<Sample> only(List<TelemetryReader.SeriesData> data) {
        assertThat(data).hasSize(1);
        return data.getFirst().samples();
    }

    @Test
    void pointsAreReadBackPerSeriesInTimeOrder() {
        TelemetryStore store = open();
        SeriesKey a = key("room.env", "d1", "temp");
        SeriesKey b = key("room.env", "d2", "temp");
        store.write(List.of(p(a, T0 + 3 * S, 3), p(b, T0 + 1 * S, 10), p(a, T0 + 1 * S, 1), p(a, T0 + 2 * S, 2)), Optional.empty());
        List<TelemetryReader.SeriesData> data = reader(store, Retention.KEEP_ALL)
                .raw(SeriesFilter.of(RoutingPattern.of("room.#"), "temp"), T0, T0 + 10 * S, 100);
        assertThat(data).extracting(d -> d.series().key().tags().get(Tags.DEVICE).orElseThrow()).containsExactly("d1", "d2");
        assertThat(data.get(0).samples()).extracting(Sample::ts).containsExactly(T0 + S, T0 + 2 * S, T0 + 3 * S);
        assertThat(data.get(0).samples()).extracting(s -> s.value().asDouble()).containsExactly(1.0, 2.0, 3.0);
        assertThat(data.get(1).samples()).extracting(s -> s.value().asDouble()).containsExactly(10.0);
    }

    @Test
    void aPointAtTheSameSeriesAndTimeReplacesTheStoredOne() {
        TelemetryStore store = open();
        SeriesKey a = key("room.env", "d1", "temp");
        store.write(List.of(p(a, T0, 1), p(a, T0 + S, 2)), Optional.empty());
        store.write(List.of(p(a, T0, 5)), Optional.empty());
        store.write(List.of(p(a, T0 + S, 6), p(a, T0 + S, 7)), Optional.empty());
        List<Sample> samples = only(reader(store, Retention.KEEP_ALL).raw(SeriesFilter.of(RoutingPattern.ALL), 0, T0 + DAY, 100));
        assertThat(samples).extracting(s -> s.value().asDouble()).containsExactly(5.0, 7.0);
    }

    @Test
    void theCheckpointIsStoredWithItsBatchAndSurvivesReopening() {
        TelemetryStore store = open();
        assertThat(store.checkpoint("writer:raw")).isEmpty();
        store.write(List.of(p(key("k", "d", "v"), T0, 1)), Optional.of(new Checkpoint("writer:raw", 41)));
        store.write(List.of(), Optional.of(new Checkpoint("writer:raw", 42)));
        store.write(List.of(p(key("k", "d", "v"), T0 + S, 2)), Optional.empty());
        assertThat(store.checkpoint("writer:raw")).hasValue(42);
        store.close();

        TelemetryStore again = open();
        assertThat(again.checkpoint("writer:raw")).hasValue(42);
        assertThat(again.checkpoint("other")).isEmpty();
        assertThat(only(reader(again, Retention.KEEP_ALL).raw(SeriesFilter.ALL, 0, T0 + DAY, 100))).hasSize(2);
    }

    @Test
    void integersBooleansAndStringsKeepTheirTypeAndValue() {
        TelemetryStore store = open();
        SeriesKey big = key("k", "d", "big");
        SeriesKey on = key("k", "d", "on");
        SeriesKey text = key("k", "d", "text");
        store.write(List.of(
                new Point(big, T0, FieldValue.of(Long.MAX_VALUE)),
                new Point(big, T0 + S, FieldValue.of(-42L)),
                new Point(on, T0, FieldValue.of(true)),
                new Point(on, T0 + S, FieldValue.of(false)),
                new Point(text, T0, FieldValue.of("héllo, \"wörld\"\n✓"))), Optional.empty());
        TelemetryReader reader = reader(store, Retention.KEEP_ALL);
        List<Sample> bigs = only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "big"), 0, T0 + DAY, 10));
        assertThat(bigs).extracting(Sample::value).containsExactly(FieldValue.of(Long.MAX_VALUE), FieldValue.of(-42L));
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "on"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of(true), FieldValue.of(false));
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "text"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of("héllo, \"wörld\"\n✓"));
        assertThat(store.series(SeriesFilter.ALL)).extracting(s -> s.key().field() + "=" + s.type().label())
                .containsExactly("big=integer", "on=boolean", "text=string");
    }

    @Test
    void aValueOfAnotherTypeIsConvertedOrDivertedByTheTypeRule() {
        TelemetryStore store = open();
        SeriesKey f = key("k", "d", "f");
        SeriesKey i = key("k", "d", "i");
        store.write(List.of(p(f, T0, 1.5), new Point(i, T0, FieldValue.of(7L))), Optional.empty());
        WriteResult r = store.write(List.of(
                new Point(f, T0 + S, FieldValue.of(2L)),          // integer into float: converted
                new Point(i, T0 + S, FieldValue.of(3.0)),         // whole float into integer: converted
                new Point(i, T0 + 2 * S, FieldValue.of(2.5)),     // fraction into integer: diverted to i:float
                new Point(f, T0 + 2 * S, FieldValue.of("high")),  // string into float: diverted to f:string
                new Point(f, T0 + 3 * S, FieldValue.of(true))), Optional.empty());
        assertThat(r).isEqualTo(new WriteResult(5, 2, 3));
        TelemetryReader reader = reader(store, Retention.KEEP_ALL);
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "f"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of(1.5), FieldValue.of(2.0));
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "i"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of(7L), FieldValue.of(3L));
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "i:float"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of(2.5));
        assertThat(only(reader.raw(SeriesFilter.of(RoutingPattern.ALL, "f:string"), 0, T0 + DAY, 10)))
                .extracting(Sample::value).containsExactly(FieldValue.of("high"));
        assertThat(store.series(SeriesFilter.ALL)).extracting(s -> s.key().field() + "=" + s.type().label())
                .containsExactly("f=float", "f:boolean=boolean", "f:string=string", "i=integer", "i:float=float");
    }

    @Test
    void seriesAreFoundByPatternFieldAndTags() {
        TelemetryStore store = open();
        store.write(List.of(
                p(key("bedroom.env", "d1", "env.temp"), T0, 1),
                p(key("bedroom.env", "d1", "env.hum"), T0, 1),
                p(key("bedroom.env", "d2", "env.temp"), T0, 1),
                p(key("kitchen.env", "d3", "env.temp"), T0, 1),
                p(new SeriesKey(RoutingKey.of("cpu"), Tags.of(Map.of("host", "a", "region", "eu")), "usage"), T0, 1)),
                Optional.empty());
        assertThat(store.series(SeriesFilter.of(RoutingPattern.of("bedroom.*"))))
                .extracting(s -> s.key().tags().get(Tags.DEVICE).orElseThrow() + "/" + s.key().field())
                .containsExactly("d1/env.hum", "d1/env.temp", "d2/env.temp");
        assertThat(store.series(SeriesFilter.of(RoutingPattern.of("#.env"), "env.temp"))).hasSize(3);
        assertThat(store.series(new SeriesFilter(RoutingPattern.ALL, Optional.of("env.temp"), Map.of(Tags.DEVICE, "d2"))))
                .extracting(s -> s.key().key().value()).containsExactly("bedroom.env");
        assertThat(store.series(new SeriesFilter(RoutingPattern.of("cpu"), Optional.empty(), Map.of("region", "eu"))))
                .singleElement().satisfies(s -> assertThat(s.key().tags().asMap()).containsEntry("host", "a"));
        assertThat(store.series(SeriesFilter.of(RoutingPattern.of("garage.#")))).isEmpty();
    }

    @Test
    void lastGivesTheNewestPointOfEachSeries() {
        TelemetryStore store = open();
        SeriesKey a = key("k", "d1", "v");
        SeriesKey b = key("k", "d2", "v");
        store.write(List.of(p(a, T0 + 5 * S, 5), p(a, T0 + 9 * S, 9), p(b, T0 + 2 * S, 2)), Optional.empty());
        store.write(List.of(p(a, T0 + 7 * S, 7)), Optional.empty());
        List<TelemetryReader.SeriesData> last = reader(store, Retention.KEEP_ALL).last(SeriesFilter.of(RoutingPattern.of("k")));
        assertThat(last).extracting(d -> d.samples().getFirst().ts()).containsExactly(T0 + 9 * S, T0 + 2 * S);
        assertThat(last).extracting(d -> d.samples().getFirst().value().asDouble()).containsExactly(9.0, 2.0);
    }

    /** Points every ~20 s with random jitter over three hours, for two series. */
    private static List<Point> randomPoints(Random random, SeriesKey s, long from, long span) {
        List<Point> out = new ArrayList<>();
        for (long t = from; t < from + span; t += 20 * S) {
            out.add(p(s, t + random.nextInt(19_000) * 1_000_000L, Math.round(random.nextGaussian() * 1000) / 100.0));
        }
        Collections.shuffle(out, random);
        return out;
    }

    /** fn over buckets of every, computed from the points themselves. */
    private static TreeMap<Long, Double> expected(List<Point> points, long every, Fn fn) {
        TreeMap<Long, List<Point>> buckets = new TreeMap<>();
        for (Point pt : points) {
            buckets.computeIfAbsent(TimeSpans.floor(pt.ts(), every), k -> new ArrayList<>()).add(pt);
        }
        TreeMap<Long, Double> out = new TreeMap<>();
        for (var e : buckets.entrySet()) {
            List<Point> ps = new ArrayList<>(e.getValue());
            ps.sort((x, y) -> Long.compare(x.ts(), y.ts()));
            double sum = 0;
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (Point pt : ps) {
                double v = pt.value().asDouble();
                sum += v;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            out.put(e.getKey(), switch (fn) {
                case MEAN -> sum / ps.size();
                case SUM -> sum;
                case COUNT -> (double) ps.size();
                case MIN -> min;
                case MAX -> max;
                case FIRST -> ps.getFirst().value().asDouble();
                case LAST -> ps.getLast().value().asDouble();
            });
        }
        return out;
    }

    private static void assertMatches(List<Sample> samples, TreeMap<Long, Double> expected, String what) {
        assertThat(samples).as(what + ": buckets").extracting(Sample::ts).containsExactlyElementsOf(expected.keySet());
        int i = 0;
        for (double v : expected.values()) {
            assertThat(samples.get(i++).value().asDouble()).as(what).isCloseTo(v, within(1e-9));
        }
    }

    @Test
    void bucketedAggregatesMatchAComputedExpectation() {
        TelemetryStore store = open();
        Random random = new Random(7);
        SeriesKey a = key("field.soil", "p1", "moisture");
        List<Point> points = randomPoints(random, a, T0, 3 * HOUR);
        store.write(points.subList(0, 300), Optional.empty());
        store.write(points.subList(300, points.size()), Optional.empty());
        TelemetryReader reader = reader(store, Retention.KEEP_ALL);
        SeriesFilter filter = SeriesFilter.of(RoutingPattern.of("field.soil"), "moisture");
        for (long every : new long[]{MIN, 7 * MIN, HOUR}) {
            for (Fn fn : Fn.values()) {
                List<Sample> got = only(reader.aggregate(filter, T0, T0 + 3 * HOUR, every, fn));
                assertMatches(got, expected(points, every, fn), fn.label() + " every " + TimeSpans.format(every));
            }
        }
        // A range inside the data covers whole buckets: from rounds down and to rounds up.
        List<Sample> partial = only(reader.aggregate(filter, T0 + 90 * S, T0 + 150 * S, MIN, Fn.COUNT));
        assertThat(partial).extracting(Sample::ts).containsExactly(T0 + MIN, T0 + 2 * MIN);
    }

    @Test
    void aggregatesOverRollupsEqualAggregatesOverRawPoints() {
        TelemetryStore store = open();
        Random random = new Random(11);
        SeriesKey a = key("field.soil", "p1", "moisture");
        SeriesKey b = key("field.soil", "p2", "moisture");
        List<Point> pa = randomPoints(random, a, T0, 5 * HOUR);
        List<Point> pb = randomPoints(random, b, T0, 5 * HOUR);
        List<Point> all = new ArrayList<>(pa);
        all.addAll(pb);
        store.write(all, Optional.empty());
        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, 365 * DAY,
                List.of(new RetentionRule.Rollup(MIN, 365 * DAY), new RetentionRule.Rollup(HOUR, 365 * DAY)))));
        MutableClock clock = new MutableClock(Instant.ofEpochSecond((T0 + 4 * HOUR + 30 * MIN) / S));
        Maintenance maintenance = new Maintenance(store, retention, clock, 0, 1_000);
        maintenance.prepare();
        Maintenance.Report report = maintenance.runOnce();
        assertThat(report.caughtUp()).isTrue();
        assertThat(report.rollupRows()).as("1-minute rollups up to 4:30, 1-hour rollups up to 4:00")
                .isEqualTo(2 * (270 + 4));
        assertThat(store.watermarks()).containsValues(T0 + 4 * HOUR + 30 * MIN, T0 + 4 * HOUR);

        TelemetryReader reader = reader(store, retention);
        for (long every : new long[]{MIN, 5 * MIN, HOUR, 2 * HOUR, 90 * S}) {
            for (Fn fn : Fn.values()) {
                List<TelemetryReader.SeriesData> got = reader.aggregate(SeriesFilter.of(RoutingPattern.of("field.soil"), "moisture"),
                        T0, T0 + 5 * HOUR, every, fn);
                assertThat(got).hasSize(2);
                assertMatches(got.get(0).samples(), expected(pa, every, fn), "p1 " + fn.label() + " every " + TimeSpans.format(every));
                assertMatches(got.get(1).samples(), expected(pb, every, fn), "p2 " + fn.label() + " every " + TimeSpans.format(every));
            }
        }
    }

    @Test
    void retentionDeletesOldRawPointsOnlyAfterTheyWereDownsampled() {
        TelemetryStore store = open();
        SeriesKey a = key("plant.soil", "p1", "v");
        List<Point> points = new ArrayList<>();
        for (long t = T0; t < T0 + 10 * DAY; t += 10 * MIN) {
            points.add(p(a, t, (t - T0) / MIN % 97));
        }
        store.write(points, Optional.empty());
        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, 7 * DAY,
                List.of(new RetentionRule.Rollup(HOUR, 90 * DAY)))));
        MutableClock clock = new MutableClock(Instant.ofEpochSecond((T0 + 10 * DAY) / S));
        Maintenance maintenance = new Maintenance(store, retention, clock, 0, 1_000);
        maintenance.prepare();
        TelemetryReader reader = reader(store, retention);
        SeriesFilter filter = SeriesFilter.of(RoutingPattern.of("plant.soil"), "v");
        TreeMap<Long, Double> hourlyMeans = expected(points, HOUR, Fn.MEAN);

        Maintenance.Report report = maintenance.runOnce();
        assertThat(report.rawDeleted()).as("3 days of raw points, one per 10 minutes").isEqualTo(3 * 144);
        List<Sample> raw = only(reader.raw(filter, 0, T0 + 11 * DAY, 10_000));
        assertThat(raw.getFirst().ts()).isEqualTo(T0 + 3 * DAY);
        assertThat(raw).hasSize(7 * 144);
        // The deleted days are still answered, from the hourly rollups.
        assertMatches(only(reader.aggregate(filter, T0, T0 + 10 * DAY, HOUR, Fn.MEAN)), hourlyMeans, "hourly means");

        // 90 days later the rollups go too.
        clock.set(Instant.ofEpochSecond((T0 + 100 * DAY + HOUR) / S));
        maintenance.runOnce();
        assertThat(reader.aggregate(filter, T0, T0 + 10 * DAY, HOUR, Fn.MEAN)).isEmpty();
        assertThat(reader.raw(filter, 0, T0 + 11 * DAY, 10_000)).isEmpty();
    }

    @Test
    void rawPointsThatAreNotDownsampledYetAreKeptPastTheirRetention() {
        TelemetryStore store = open();
        List<Series> series = new ArrayList<>();
        List<Point> points = new ArrayList<>();
        // 200 series, so one rollup step covers 1,000 one-minute buckets (200,000 rows / 200 series).
        for (int i = 0; i < 200; i++) {
            SeriesKey k = key("fleet.gps", "car" + i, "speed");
            for (long t = T0; t < T0 + 2 * DAY; t += 30 * MIN) {
                points.add(p(k, t, i));
            }
        }
        store.write(points, Optional.empty());
        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, DAY,
                List.of(new RetentionRule.Rollup(MIN, 30 * DAY)))));
        MutableClock clock = new MutableClock(Instant.ofEpochSecond((T0 + 2 * DAY) / S));
        Maintenance oneStep = new Maintenance(store, retention, clock, 0, 1);
        oneStep.prepare();
        Maintenance.Report first = oneStep.runOnce();
        assertThat(first.caughtUp()).isFalse();
        long watermark = store.watermarks().values().iterator().next();
        assertThat(watermark).isEqualTo(T0 + 1_000 * MIN);
        // Retention wants everything before day 1 gone, but only what the rollups cover may go.
        long left = reader(store, retention).raw(SeriesFilter.ALL, 0, T0 + DAY, 100_000).stream()
                .mapToLong(d -> d.samples().size()).sum();
        assertThat(left).as("per series, the points at minutes 1020, 1050, ... 1410").isEqualTo(200L * 14);
        series.addAll(store.series(SeriesFilter.ALL));
        assertThat(series).hasSize(200);

        while (!oneStep.runOnce().caughtUp()) {
            // resumes from the watermark, one step per run
        }
        assertThat(reader(store, retention).raw(SeriesFilter.ALL, 0, T0 + DAY, 100_000)).isEmpty();
        List<TelemetryReader.SeriesData> means = reader(store, retention)
                .aggregate(SeriesFilter.of(RoutingPattern.ALL), T0, T0 + DAY, DAY, Fn.COUNT);
        assertThat(means).hasSize(200).allSatisfy(d -> assertThat(d.samples().getFirst().value()).isEqualTo(FieldValue.of(48L)));
    }

    @Test
    void latePointsAreFoldedIntoTheirRollups() {
        TelemetryStore store = open();
        SeriesKey a = key("k", "d", "v");
        List<Point> points = new ArrayList<>();
        for (long t = T0; t < T0 + HOUR; t += 10 * S) {
            points.add(p(a, t, 1));
        }
        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, 7 * DAY,
                List.of(new RetentionRule.Rollup(MIN, 30 * DAY), new RetentionRule.Rollup(HOUR, 365 * DAY)))));
        MutableClock clock = new MutableClock(Instant.ofEpochSecond((T0 + 2 * HOUR) / S));
        Maintenance maintenance = new Maintenance(store, retention, clock, 0, 1_000);
        maintenance.prepare();
        store.write(points, Optional.empty());
        maintenance.runOnce();
        TelemetryReader reader = reader(store, retention);
        SeriesFilter filter = SeriesFilter.of(RoutingPattern.of("k"), "v");
        assertThat(only(reader.aggregate(filter, T0, T0 + HOUR, HOUR, Fn.SUM)).getFirst().value().asDouble()).isEqualTo(360);

        // A point for minute 10 arrives after that minute (and its hour) were downsampled.
        store.write(List.of(p(a, T0 + 10 * MIN + 5 * S, 100)), Optional.empty());
        Maintenance.Report report = maintenance.runOnce();
        assertThat(report.lateStretches()).isEqualTo(1);
        assertThat(only(reader.aggregate(filter, T0, T0 + HOUR, HOUR, Fn.SUM)).getFirst().value().asDouble()).isEqualTo(460);
        assertThat(only(reader.aggregate(filter, T0 + 10 * MIN, T0 + 11 * MIN, MIN, Fn.MAX)).getFirst().value().asDouble()).isEqualTo(100);
        assertThat(store.late(10)).isEmpty();
    }

    @Test
    void downsamplingResumesFromItsWatermarkAfterReopening() {
        TelemetryStore store = open();
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            SeriesKey k = key("herd.cow", "c" + i, "temp");
            for (long t = T0; t < T0 + DAY; t += 15 * MIN) {
                points.add(p(k, t, 38 + i % 3));
            }
        }
        store.write(points, Optional.empty());
        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, 30 * DAY,
                List.of(new RetentionRule.Rollup(MIN, 90 * DAY)))));
        MutableClock clock = new MutableClock(Instant.ofEpochSecond((T0 + DAY) / S));
        new Maintenance(store, retention, clock, 0, 1).runOnce();
        long firstMark = store.watermarks().values().iterator().next();
        assertThat(firstMark).isEqualTo(T0 + 400 * MIN);
        store.close();

        TelemetryStore again = open();
        assertThat(again.watermarks()).containsValue(firstMark);
        Maintenance maintenance = new Maintenance(again, retention, clock, 0, 1);
        maintenance.prepare();
        int runs = 1;
        while (!maintenance.runOnce().caughtUp()) {
            runs++;
        }
        assertThat(runs).as("the runs after reopening start at the watermark").isEqualTo(3);
        assertThat(again.watermarks()).containsValue(T0 + DAY);
        List<TelemetryReader.SeriesData> counts = reader(again, retention)
                .aggregate(SeriesFilter.of(RoutingPattern.ALL, "temp"), T0, T0 + DAY, DAY, Fn.COUNT);
        assertThat(counts).hasSize(500).allSatisfy(d -> assertThat(d.samples()).singleElement()
                .satisfies(s -> assertThat(s.value()).isEqualTo(FieldValue.of(96L))));
    }

    @Test
    void queriesTooLargeForMemoryAreRefusedWithAReason() {
        TelemetryStore store = open();
        SeriesKey a = key("k", "d", "v");
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            points.add(p(a, T0 + i * S, i));
        }
        store.write(points, Optional.empty());
        TelemetryReader small = new TelemetryReader(store, Retention.KEEP_ALL, new TelemetryReader.Limits(10, 1_000, 20));
        assertThatThrownBy(() -> small.aggregate(SeriesFilter.ALL, T0, T0 + DAY, S, Fn.MEAN))
                .isInstanceOf(TelemetryReader.Refused.class).hasMessageContaining("86400 buckets");
        assertThatThrownBy(() -> small.raw(SeriesFilter.ALL, T0, T0 + DAY, 1_000))
                .isInstanceOf(TelemetryReader.Refused.class).hasMessageContaining("more than 20 points");
        assertThat(only(small.raw(SeriesFilter.ALL, T0, T0 + 20 * S, 1_000))).hasSize(20);
        store.write(List.of(new Point(key("k", "d", "state"), T0, FieldValue.of("on"))), Optional.empty());
        assertThatThrownBy(() -> small.aggregate(SeriesFilter.of(RoutingPattern.ALL), T0, T0 + HOUR, MIN, Fn.MEAN))
                .isInstanceOf(TelemetryReader.Refused.class).hasMessageContaining("holds strings");
        assertThat(small.aggregate(SeriesFilter.of(RoutingPattern.ALL, "state"), T0, T0 + HOUR, MIN, Fn.LAST))
                .singleElement().satisfies(d -> assertThat(d.samples().getFirst().value()).isEqualTo(FieldValue.of("on")));
    }
}
