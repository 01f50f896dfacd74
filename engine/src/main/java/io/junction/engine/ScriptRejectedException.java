package io.junction.engine;

/**
 * A script that cannot be stored: it does not compile, does not define {@code process}, or fails in its top-level
 * code or {@code init}. The message is the language's own, with the line when the language gives one.
 */
public final class ScriptRejectedException extends RuntimeException {

    private final int line;

    ScriptRejectedException(String message, int line) {
        super(message);
        this.line = line;
    }

    /** The 1-based line the error is on; 0 when unknown. */
    public int line() {
        return line;
    }
}
