package io.junction.core.telemetry;

/**
 * What a write did.
 *
 * @param written   points stored
 * @param converted points whose value was converted to their series' type (an integer into a float series, ...)
 * @param diverted  points stored under a sibling field because their type did not fit their series ({@link TypeRule})
 */
public record WriteResult(int written, int converted, int diverted) {
}
