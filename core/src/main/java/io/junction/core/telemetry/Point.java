package io.junction.core.telemetry;

import java.util.Objects;

/**
 * One value of one series at one time.
 *
 * @param ts nanoseconds since the epoch (not negative). A point with the same series and time as a stored one
 *           replaces it, as in InfluxDB.
 */
public record Point(SeriesKey series, long ts, FieldValue value) {

    public Point {
        Objects.requireNonNull(series, "series");
        Objects.requireNonNull(value, "value");
        if (ts < 0) {
            throw new IllegalArgumentException("a point's time must not be before 1970, got " + ts + " ns");
        }
    }
}
