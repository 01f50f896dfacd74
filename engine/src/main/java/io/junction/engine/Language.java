package io.junction.engine;

import java.util.Locale;
import java.util.Optional;

/** The languages a script can be written in. */
public enum Language {
    JAVASCRIPT("javascript", "js"),
    PYTHON("python", "py"),
    WASM("wasm", "wasm");

    private final String id;
    private final String extension;

    Language(String id, String extension) {
        this.id = id;
        this.extension = extension;
    }

    /** The name used in the API and the store: {@code javascript}, {@code python} or {@code wasm}. */
    public String id() {
        return id;
    }

    /** The file extension a script's source is named with in error messages and stack traces. */
    String extension() {
        return extension;
    }

    public static Optional<Language> parse(String text) {
        String t = text.toLowerCase(Locale.ROOT);
        for (Language l : values()) {
            if (l.id.equals(t)) {
                return Optional.of(l);
            }
        }
        return Optional.empty();
    }
}
