package io.junction.core.telemetry;

/**
 * How far a consumer of a stream got, stored in the same transaction as the points it wrote, so that after a crash
 * it resumes exactly there: nothing lost, nothing twice.
 *
 * @param consumer a stable name, such as {@code writer:raw}
 * @param offset   the offset of the first stream entry not yet covered
 */
public record Checkpoint(String consumer, long offset) {
}
