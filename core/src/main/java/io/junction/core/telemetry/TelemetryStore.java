package io.junction.core.telemetry;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The telemetry port: time series of (series, time, value) with batched writes, time-bucketed aggregates, rollups
 * and deletion. The embedded adapter keeps them in the data directory; the scale-out adapter in PostgreSQL. Both pass
 * the same contract test. Times and intervals are nanoseconds since the epoch; ranges are {@code [from, to)}.
 *
 * <p>Policy (which rollups to compute when, what to delete, how to plan a query) is not here but in
 * {@link Maintenance} and {@link TelemetryReader}, which only use these primitives.
 */
public interface TelemetryStore extends AutoCloseable {

    /**
     * Stores a batch of points, and the consumer's checkpoint when given, in one transaction: either all of it is
     * stored or none of it. A series is created by its first point; values that do not fit their series' type follow
     * {@link TypeRule}. A point with the same series and time as a stored one replaces it.
     */
    WriteResult write(List<Point> points, Optional<Checkpoint> checkpoint);

    /** The checkpoint last stored for {@code consumer}, if any. */
    OptionalLong checkpoint(String consumer);

    /** The series that match {@code filter}, ordered by key, tags and field. */
    List<Series> series(SeriesFilter filter);

    /** Raw points of the series in {@code [from, to)}, ordered by series (as given) then time; at most {@code limit}. */
    List<Sample> raw(List<Series> series, long from, long to, int limit);

    /** The newest raw point of each series that has one. */
    List<Sample> last(List<Series> series);

    /**
     * Partial aggregates of the series per bucket of {@code every} (buckets are multiples of {@code every}) over
     * {@code [from, to)}, read from {@code source}. Only the parts {@code fn} needs are filled. Rollups hold whole
     * rollup buckets, so {@code from} and {@code to} should be multiples of the source's interval.
     */
    List<Aggregate> aggregate(Source source, List<Series> series, long from, long to, long every, Fn fn);

    /** The time of the oldest point (or rollup bucket) of the series in {@code source}, if any. */
    OptionalLong oldest(Source source, List<Series> series);

    /**
     * Computes (or recomputes) the rollups of interval {@code every} for the buckets in {@code [from, to)} of the
     * numeric series, from {@code source} (raw points or a finer rollup), replacing what was there; with a watermark,
     * stores it in the same transaction. Returns the number of rollup rows written.
     */
    long rollup(long every, Source source, List<Series> series, long from, long to, Optional<Watermark> watermark);

    /** Every stored watermark, by name. */
    Map<String, Long> watermarks();

    /** Deletes the series' raw points (or rollups) older than {@code before}; returns how many rows went. */
    long delete(Source source, List<Series> series, long before);

    /**
     * From now on, records the stretch ({@code granularity} wide) of every point written older than {@code before}:
     * those stretches were downsampled already and must be again ({@link #late}). Not persistent: set it again after
     * opening the store, before writing.
     */
    void trackLate(long before, long granularity);

    /** Up to {@code max} recorded late stretches. */
    List<LateBucket> late(int max);

    /** Forgets late stretches once their rollups were recomputed. */
    void forgetLate(List<LateBucket> done);

    /** Bytes the store takes on disk (for an external database: what its tables take). */
    long sizeBytes();

    @Override
    void close();
}
