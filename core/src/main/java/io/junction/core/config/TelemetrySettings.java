package io.junction.core.config;

/** The telemetry writer, store, retention and query limits ([telemetry]). */
public record TelemetrySettings() {

    public static TelemetrySettings defaults() {
        return new TelemetrySettings();
    }

    /** Reads {@code [telemetry]}; an absent section means the defaults. */
    static TelemetrySettings read(Section s) {
        s.finish();
        return defaults();
    }
}
