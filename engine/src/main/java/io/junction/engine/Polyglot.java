package io.junction.engine;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotAccess;
import org.graalvm.polyglot.SandboxPolicy;
import org.graalvm.polyglot.io.IOAccess;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.OutputStream;
import java.util.EnumMap;
import java.util.Map;

/**
 * GraalVM's polyglot runtime for JavaScript and Python: one shared {@link Engine} per language (made on first use,
 * since Python takes seconds to start), and the sandboxed contexts scripts run in. JavaScript runs under the
 * CONSTRAINED sandbox policy; GraalPy does not offer it, so its contexts deny host access, host class lookup, files,
 * processes, threads, native code, environment and other languages one by one. On a stock JDK both run in Truffle's
 * interpreter (no JIT compiler), which is why the engine keeps one long-lived context per script.
 */
final class Polyglot implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Polyglot.class);

    private final Map<Language, Engine> engines = new EnumMap<>(Language.class);
    private final Map<Language, String> unavailable = new EnumMap<>(Language.class);
    private boolean closed;

    /** The shared engine of {@code language}, made on first use; a rejection that says why when it cannot run here. */
    synchronized Engine engine(Language language) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        Engine e = engines.get(language);
        if (e != null) {
            return e;
        }
        String why = unavailable.get(language);
        if (why != null) {
            throw new ScriptRejectedException(why, 0);
        }
        long started = System.nanoTime();
        try {
            Engine.Builder b = Engine.newBuilder(languageId(language))
                    .out(OutputStream.nullOutputStream())
                    .err(OutputStream.nullOutputStream())
                    .option("engine.WarnInterpreterOnly", "false");
            if (language == Language.JAVASCRIPT) {
                b.sandbox(SandboxPolicy.CONSTRAINED);
            }
            e = b.build();
        } catch (RuntimeException ex) {
            why = language.id() + " scripts cannot run in this server: its GraalVM language is not installed ("
                    + ex.getMessage() + ")";
            unavailable.put(language, why);
            throw new ScriptRejectedException(why, 0);
        }
        engines.put(language, e);
        log.info("polyglot engine for {} started in {} ms", language.id(), (System.nanoTime() - started) / 1_000_000);
        return e;
    }

    /** A new sandboxed context for a script; {@code out} receives what it prints. */
    Context newContext(Language language, OutputStream out) {
        Engine e = engine(language);
        Context.Builder b = Context.newBuilder(languageId(language)).engine(e).out(out).err(out);
        if (language == Language.JAVASCRIPT) {
            b.sandbox(SandboxPolicy.CONSTRAINED);
        } else {
            b.allowHostAccess(HostAccess.NONE)
                    .allowHostClassLookup(className -> false)
                    .allowIO(IOAccess.NONE)
                    .allowCreateProcess(false)
                    .allowCreateThread(false)
                    .allowNativeAccess(false)
                    .allowEnvironmentAccess(EnvironmentAccess.NONE)
                    .allowPolyglotAccess(PolyglotAccess.NONE);
        }
        return b.build();
    }

    static String languageId(Language language) {
        return switch (language) {
            case JAVASCRIPT -> "js";
            case PYTHON -> "python";
            case WASM -> throw new IllegalArgumentException("WASM modules run on Chicory, not on the polyglot runtime");
        };
    }

    @Override
    public synchronized void close() {
        closed = true;
        for (Engine e : engines.values()) {
            try {
                e.close(true);
            } catch (RuntimeException ex) {
                log.warn("closing a polyglot engine failed: {}", ex.toString());
            }
        }
        engines.clear();
    }
}
