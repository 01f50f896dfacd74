package io.junction.engine;

/** Why one call of a script failed: its own error, or a limit that stopped it. */
final class ScriptFailure extends Exception {

    enum Cause {
        /** The script threw, returned something that is not an output, or trapped (WASM). */
        ERROR,
        /** The call was stopped from outside (the watchdog, or the engine closing); the guard says which limit. */
        STOPPED
    }

    private final Cause cause;
    private final int line;
    /** True when the runner cannot be used again and must be rebuilt. */
    private final boolean broken;

    ScriptFailure(Cause cause, String message, int line, boolean broken) {
        super(message, null, false, false);
        this.cause = cause;
        this.line = line;
        this.broken = broken;
    }

    static ScriptFailure error(String message) {
        return new ScriptFailure(Cause.ERROR, message, 0, false);
    }

    Cause kind() {
        return cause;
    }

    int line() {
        return line;
    }

    boolean broken() {
        return broken;
    }
}
