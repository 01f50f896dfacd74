package io.junction.core.config;

/** Firmware packages and rollouts ([ota]). */
public record OtaSettings() {

    public static OtaSettings defaults() {
        return new OtaSettings();
    }

    /** Reads {@code [ota]}; an absent section means the defaults. */
    static OtaSettings read(Section s) {
        s.finish();
        return defaults();
    }
}
