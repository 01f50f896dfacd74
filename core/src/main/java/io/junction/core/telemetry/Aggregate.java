package io.junction.core.telemetry;

/**
 * A partial aggregate of one series over one bucket, as an adapter returns it: partials of the same bucket from
 * different sources (rollups for the old part of a range, raw points for the recent part) combine with
 * {@link #merge}. Only the parts the query's {@link Fn} needs are filled; the others are NaN (0 for the count).
 *
 * @param bucket  the bucket's start, nanoseconds (a multiple of the query's interval)
 * @param firstTs the time of {@code first} (for rollups: the start of the rollup bucket that held it)
 * @param lastTs  the time of {@code last}
 * @param first   for a string series the first value is in {@code firstText}
 */
public record Aggregate(long seriesId, long bucket, long count, double sum, double min, double max,
                        long firstTs, double first, long lastTs, double last, String firstText, String lastText) {

    /** Combines two partials of the same series and bucket. */
    public Aggregate merge(Aggregate o) {
        boolean oFirst = o.count > 0 && (count == 0 || o.firstTs < firstTs);
        boolean oLast = o.count > 0 && (count == 0 || o.lastTs >= lastTs);
        return new Aggregate(seriesId, bucket, count + o.count, plus(sum, o.sum), least(min, o.min), most(max, o.max),
                oFirst ? o.firstTs : firstTs, oFirst ? o.first : first,
                oLast ? o.lastTs : lastTs, oLast ? o.last : last,
                oFirst ? o.firstText : firstText, oLast ? o.lastText : lastText);
    }

    /** The value of {@code fn} for this bucket (NaN when it has none, e.g. the mean of an empty bucket). */
    public double value(Fn fn) {
        return switch (fn) {
            case MEAN -> count == 0 ? Double.NaN : sum / count;
            case MIN -> min;
            case MAX -> max;
            case SUM -> sum;
            case COUNT -> count;
            case FIRST -> first;
            case LAST -> last;
        };
    }

    private static double plus(double a, double b) {
        return Double.isNaN(a) ? b : Double.isNaN(b) ? a : a + b;
    }

    private static double least(double a, double b) {
        return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.min(a, b);
    }

    private static double most(double a, double b) {
        return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.max(a, b);
    }
}
