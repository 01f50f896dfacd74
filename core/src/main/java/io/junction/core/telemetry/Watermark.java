package io.junction.core.telemetry;

/**
 * How far one rollup level has been computed: every bucket before {@code ts} is done. Stored in the same transaction
 * as the rollups, so downsampling resumes exactly there after a restart.
 */
public record Watermark(String name, long ts) {
}
