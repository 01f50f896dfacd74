package io.junction.server;

/** Starts the telemetry feature for the composition root and returns what closes it. */
final class TelemetryFeature {

    private TelemetryFeature() {
    }

    static AutoCloseable start(FeatureContext context) {
        return () -> {
        };
    }
}
