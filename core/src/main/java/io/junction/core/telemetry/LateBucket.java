package io.junction.core.telemetry;

/**
 * A stretch of time of one series that got points after it had been downsampled, so its rollups must be computed
 * again.
 *
 * @param bucket  the start of the stretch, in nanoseconds (a multiple of the store's late granularity)
 * @param version changes whenever another late point lands in the stretch, so that forgetting a stretch that was
 *                recomputed does not forget a point that arrived meanwhile
 */
public record LateBucket(long seriesId, long bucket, long version) {
}
