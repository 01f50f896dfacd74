package io.junction.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A small HdrHistogram-like recorder of latencies in microseconds. Values below 128 µs get a bucket each; above,
 * every power of two is split into 64 linear buckets, so a bucket is never wider than 1/64 (about 1.6 %) of its
 * values. Recording is lock-free and allocation-free; reading while recording gives a slightly fuzzy but usable
 * snapshot.
 */
public final class LatencyHistogram {

    private static final int SUB_BITS = 7;
    private static final int SUB = 1 << SUB_BITS;   // 128 exact buckets
    private static final int HALF = SUB >> 1;       // 64 buckets per power of two above
    private static final int MAX_SHIFT = 40;        // up to about 2^47 µs, far beyond anything measured
    private static final int SIZE = SUB + MAX_SHIFT * HALF;

    private final AtomicLongArray counts = new AtomicLongArray(SIZE);
    private final AtomicLong count = new AtomicLong();
    private final AtomicLong sum = new AtomicLong();
    private final AtomicLong max = new AtomicLong();
    private final AtomicLong min = new AtomicLong(Long.MAX_VALUE);

    /** Records one value in microseconds; negative values count as 0. */
    public void record(long micros) {
        long v = Math.max(0, micros);
        counts.incrementAndGet(index(v));
        count.incrementAndGet();
        sum.addAndGet(v);
        if (v > max.get()) {
            max.accumulateAndGet(v, Math::max);
        }
        if (v < min.get()) {
            min.accumulateAndGet(v, Math::min);
        }
    }

    static int index(long v) {
        if (v < SUB) {
            return (int) v;
        }
        int msb = 63 - Long.numberOfLeadingZeros(v);
        int shift = msb - (SUB_BITS - 1);
        int idx = SUB + (shift - 1) * HALF + (int) ((v >> shift) - HALF);
        return Math.min(idx, SIZE - 1);
    }

    static long lowestOf(int idx) {
        if (idx < SUB) {
            return idx;
        }
        int k = idx - SUB;
        int shift = k / HALF + 1;
        long mantissa = (k % HALF) + HALF;
        return mantissa << shift;
    }

    static long highestOf(int idx) {
        return idx < SUB ? idx : lowestOf(idx + 1) - 1;
    }

    public long count() {
        return count.get();
    }

    public long max() {
        return count.get() == 0 ? 0 : max.get();
    }

    public long min() {
        return count.get() == 0 ? 0 : min.get();
    }

    public double mean() {
        long c = count.get();
        return c == 0 ? 0 : (double) sum.get() / c;
    }

    /**
     * The value at {@code percentile} (0–100] in microseconds: the highest value of the bucket holding that rank,
     * never more than the largest value recorded. 0 when nothing was recorded.
     */
    public long percentile(double percentile) {
        long total = 0;
        long[] snapshot = new long[SIZE];
        for (int i = 0; i < SIZE; i++) {
            snapshot[i] = counts.get(i);
            total += snapshot[i];
        }
        if (total == 0) {
            return 0;
        }
        double p = Math.min(100.0, Math.max(0.0, percentile));
        long rank = Math.max(1, (long) Math.ceil(p / 100.0 * total));
        long seen = 0;
        for (int i = 0; i < SIZE; i++) {
            seen += snapshot[i];
            if (seen >= rank) {
                return Math.min(highestOf(i), max.get());
            }
        }
        return max.get();
    }

    /** Adds every value of {@code other} to this one. */
    public void add(LatencyHistogram other) {
        for (int i = 0; i < SIZE; i++) {
            long c = other.counts.get(i);
            if (c != 0) {
                counts.addAndGet(i, c);
            }
        }
        count.addAndGet(other.count.get());
        sum.addAndGet(other.sum.get());
        if (other.count() > 0) {
            max.accumulateAndGet(other.max.get(), Math::max);
            min.accumulateAndGet(other.min.get(), Math::min);
        }
    }

    public void reset() {
        for (int i = 0; i < SIZE; i++) {
            counts.set(i, 0);
        }
        count.set(0);
        sum.set(0);
        max.set(0);
        min.set(Long.MAX_VALUE);
    }
}
