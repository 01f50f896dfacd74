package io.junction.bench;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LatencyHistogramTest {

    @Test
    void percentilesOfAUniformDistributionAreWithinOneBucket() {
        LatencyHistogram h = new LatencyHistogram();
        for (long v = 1; v <= 100_000; v++) {
            h.record(v);
        }
        assertThat(h.count()).isEqualTo(100_000);
        assertThat(h.min()).isEqualTo(1);
        assertThat(h.max()).isEqualTo(100_000);
        assertThat(h.mean()).isCloseTo(50_000.5, within(0.01));
        // a bucket is at most 1/64 of its values wide
        assertThat((double) h.percentile(50)).isCloseTo(50_000, within(50_000 / 64.0));
        assertThat((double) h.percentile(90)).isCloseTo(90_000, within(90_000 / 64.0));
        assertThat((double) h.percentile(99)).isCloseTo(99_000, within(99_000 / 64.0));
        assertThat((double) h.percentile(99.9)).isCloseTo(99_900, within(99_900 / 64.0));
        assertThat(h.percentile(100)).isEqualTo(100_000);
    }

    @Test
    void smallValuesAreExact() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 0; i < 90; i++) {
            h.record(10);
        }
        for (int i = 0; i < 9; i++) {
            h.record(100);
        }
        h.record(5_000_000);
        assertThat(h.percentile(50)).isEqualTo(10);
        assertThat(h.percentile(90)).isEqualTo(10);
        assertThat(h.percentile(99)).isEqualTo(100);
        assertThat(h.percentile(100)).isEqualTo(5_000_000);
        assertThat(h.max()).isEqualTo(5_000_000);
    }

    @Test
    void exponentialDistributionMatchesSortedSamples() {
        Random r = new Random(42);
        long[] values = new long[200_000];
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 0; i < values.length; i++) {
            values[i] = (long) (-Math.log(1 - r.nextDouble()) * 2_000);   // mean 2 ms
            h.record(values[i]);
        }
        java.util.Arrays.sort(values);
        for (double p : new double[]{50, 90, 99, 99.9}) {
            long exact = values[(int) Math.ceil(p / 100 * values.length) - 1];
            assertThat((double) h.percentile(p)).as("p%s", p).isCloseTo(exact, within(exact / 64.0 + 1));
        }
    }

    @Test
    void bucketsCoverEveryValueWithoutGaps() {
        for (long v = 0; v < 1_000_000; v += 7) {
            int i = LatencyHistogram.index(v);
            assertThat(LatencyHistogram.lowestOf(i)).isLessThanOrEqualTo(v);
            assertThat(LatencyHistogram.highestOf(i)).isGreaterThanOrEqualTo(v);
        }
        for (int i = 0; i < 2000; i++) {
            assertThat(LatencyHistogram.lowestOf(i + 1)).isEqualTo(LatencyHistogram.highestOf(i) + 1);
        }
    }

    @Test
    void emptyAddAndReset() {
        LatencyHistogram a = new LatencyHistogram();
        assertThat(a.percentile(99)).isZero();
        assertThat(a.max()).isZero();
        LatencyHistogram b = new LatencyHistogram();
        b.record(300);
        b.record(-5);
        a.add(b);
        assertThat(a.count()).isEqualTo(2);
        assertThat(a.min()).isZero();
        assertThat(a.max()).isEqualTo(300);
        a.reset();
        assertThat(a.count()).isZero();
        assertThat(a.percentile(50)).isZero();
    }
}
