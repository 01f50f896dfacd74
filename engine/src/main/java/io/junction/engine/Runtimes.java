package io.junction.engine;

/**
 * Turns a stored script into runners: JavaScript and Python on the polyglot runtime, WASM on Chicory, and the
 * built-in pass-through that copies messages unchanged.
 */
final class Runtimes implements AutoCloseable {

    /**
     * A version of a script checked and, for WASM, compiled: ready to be instantiated any number of times.
     * {@code problem} is set (and nothing can be instantiated) when a stored script cannot be compiled any more, for
     * instance when its language is not installed in this server.
     */
    record Compiled(ScriptSource source, WasmRunner.Module module, String problem) {
    }

    private final Polyglot polyglot = new Polyglot();
    private final long memoryLimitBytes;

    Runtimes(long memoryLimitBytes) {
        this.memoryLimitBytes = memoryLimitBytes;
    }

    /** Compiles {@code source}; a {@link ScriptRejectedException} when it cannot be. */
    Compiled compile(ScriptSource source) {
        if (source.language() == Language.WASM) {
            return new Compiled(source, WasmRunner.compile(source.code(), memoryLimitBytes), null);
        }
        polyglot.engine(source.language());
        return new Compiled(source, null, null);
    }

    /**
     * Compiles a stored script at start-up: a failure is kept in the result, to be shown, instead of thrown. The
     * polyglot engines are left to start on the scripts' own threads, so a Python script does not hold up start-up.
     */
    Compiled compileStored(ScriptSource source) {
        if (source.language() != Language.WASM) {
            return new Compiled(source, null, null);
        }
        try {
            return compile(source);
        } catch (ScriptRejectedException e) {
            return new Compiled(source, null, e.getMessage());
        }
    }

    /** A new runner of {@code compiled}, loaded and initialised on the calling thread inside {@code guard}. */
    Runner instantiate(Compiled compiled, Host host, Guard guard) {
        ScriptSource s = compiled.source();
        if (compiled.problem() != null) {
            throw new ScriptRejectedException(compiled.problem(), 0);
        }
        return switch (s.language()) {
            case JAVASCRIPT -> new JsRunner(polyglot, s, host, guard);
            case PYTHON -> new PythonRunner(polyglot, s, host, guard);
            case WASM -> new WasmRunner(compiled.module(), s, host, guard);
        };
    }

    /** The runner of pass-through: every message it is given is copied to the processed stream as it is. */
    static Runner passThrough() {
        return new Runner() {
            @Override
            public void process(io.junction.core.stream.StreamEntry entry, Outputs outputs) {
                outputs.copy(entry.message());
            }

            @Override
            public void stop(Limit limit, Guard guard, long call) {
                // Copying cannot run away.
            }

            @Override
            public void close(Guard guard) {
                // Nothing to free.
            }
        };
    }

    @Override
    public void close() {
        polyglot.close();
    }
}
