package io.junction.server;

/** Starts the engine feature for the composition root and returns what closes it. */
final class EngineFeature {

    private EngineFeature() {
    }

    static AutoCloseable start(FeatureContext context) {
        return () -> {
        };
    }
}
