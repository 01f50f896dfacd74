package io.junction.server;

/** Starts the media feature for the composition root and returns what closes it. */
final class MediaFeature {

    private MediaFeature() {
    }

    static AutoCloseable start(FeatureContext context) {
        return () -> {
        };
    }
}
