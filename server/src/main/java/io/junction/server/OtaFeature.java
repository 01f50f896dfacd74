package io.junction.server;

/** Starts the ota feature for the composition root and returns what closes it. */
final class OtaFeature {

    private OtaFeature() {
    }

    static AutoCloseable start(FeatureContext context) {
        return () -> {
        };
    }
}
