package io.junction.scaleout;

/**
 * How an adapter reports whether its engine answers. The composition root maps it onto a hub component named after
 * the engine ({@code kafka}, {@code redis}, {@code postgres}), so {@code GET /api/health} turns not-ready naming the
 * engine while it is away and ready again once it is back. Calls must be cheap and may repeat the current state.
 */
public interface EngineHealth {

    /** Reports nothing: for tests and tools that do not run a hub. */
    EngineHealth NONE = new EngineHealth() {
        @Override
        public void up() {
        }

        @Override
        public void down(String reason) {
        }
    };

    /** The engine answers again (or answered from the start). */
    void up();

    /** The engine does not answer; {@code reason} says what failed, e.g. {@code "kafka at 127.0.0.1:9092: timed out"}. */
    void down(String reason);
}
