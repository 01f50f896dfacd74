package io.junction.ota;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class ByteRangeTest {

    static ByteRange.Ask parse(String header) {
        return ByteRange.parse(Optional.ofNullable(header), 1000);
    }

    @Test
    void rangesResolveAgainstTheImageSize() {
        assertThat(parse("bytes=0-99")).isEqualTo(new ByteRange.Part(new ByteRange(0, 99)));
        assertThat(parse("bytes=500-")).isEqualTo(new ByteRange.Part(new ByteRange(500, 999)));
        assertThat(parse("bytes=-100")).isEqualTo(new ByteRange.Part(new ByteRange(900, 999)));
        assertThat(parse("bytes=900-5000")).isEqualTo(new ByteRange.Part(new ByteRange(900, 999)));
        assertThat(parse("bytes=-5000")).isEqualTo(new ByteRange.Part(new ByteRange(0, 999)));
    }

    @Test
    void aRangeStartingAtOrPastTheEndIsUnsatisfiable() {
        assertThat(parse("bytes=1000-")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(parse("bytes=1000-2000")).isInstanceOf(ByteRange.Unsatisfiable.class);
        assertThat(parse("bytes=-0")).isInstanceOf(ByteRange.Unsatisfiable.class);
    }

    @Test
    void malformedOrMultipleRangesAreIgnoredAndTheWholeImageIsSent() {
        assertThat(parse(null)).isInstanceOf(ByteRange.Whole.class);
        assertThat(parse("bytes=abc")).isInstanceOf(ByteRange.Whole.class);
        assertThat(parse("bytes=5-1")).isInstanceOf(ByteRange.Whole.class);
        assertThat(parse("bytes=0-1,5-9")).isInstanceOf(ByteRange.Whole.class);
        assertThat(parse("items=0-1")).isInstanceOf(ByteRange.Whole.class);
    }
}
