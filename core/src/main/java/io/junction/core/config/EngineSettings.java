package io.junction.core.config;

/** The processing engine: scripts' limits, pass-through patterns and the plugins folder ([engine]). */
public record EngineSettings() {

    public static EngineSettings defaults() {
        return new EngineSettings();
    }

    /** Reads {@code [engine]}; an absent section means the defaults. */
    static EngineSettings read(Section s) {
        s.finish();
        return defaults();
    }
}
