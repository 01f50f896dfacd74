package io.junction.engine;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.SourceSection;
import org.graalvm.polyglot.Value;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * What JavaScript and Python runners share: one sandboxed context per script, its loading with errors turned into
 * rejections that carry the language's message and line, and how a running call is stopped (interrupted for the
 * time limit, cancelled — which frees the context's heap — for the memory limit).
 */
abstract class PolyglotRunner implements Runner {

    protected final Context context;
    protected final Host host;
    protected final String fileName;

    PolyglotRunner(Polyglot polyglot, ScriptSource source, Host host) {
        this.host = host;
        this.fileName = source.name() + "." + source.language().extension();
        this.context = polyglot.newContext(source.language(), host.logs.stream());
    }

    /** Loads the script: prelude, the user's code, the check that {@code process} exists, then {@code init}. */
    protected final void load(ScriptSource source, Guard guard) {
        try {
            prepare();
            call(guard, "loading the script", () -> context.eval(Source.newBuilder(Polyglot.languageId(source.language()),
                    source.text(), fileName).buildLiteral()));
            if (!hasProcess()) {
                throw new ScriptRejectedException("the script must define a function process(message)", 0);
            }
            call(guard, "init", this::callInit);
        } catch (RuntimeException e) {
            closeContext();
            throw e;
        }
    }

    /** Sets up the script's globals before its code runs. */
    protected abstract void prepare();

    protected abstract boolean hasProcess();

    protected abstract void callInit();

    protected abstract void callClose();

    /** Runs a loading step inside the guard, turning any failure into a rejection. */
    private void call(Guard guard, String step, Runnable r) {
        long call = guard.enterLoading(this);
        try {
            r.run();
        } catch (PolyglotException e) {
            Limit limit = guard.stoppedBy(call);
            if (limit != null) {
                throw new ScriptRejectedException(step + " was stopped by the " + limit.label + " ("
                        + (limit == Limit.TIME ? "it ran too long" : "it allocated too much") + ")", 0);
            }
            int line = lineOf(e);
            String message = e.getMessage();
            if (line > 0 && !message.contains(fileName + ":" + line) && !message.contains("line " + line)) {
                message += " (" + fileName + ", line " + line + ")";
            }
            throw new ScriptRejectedException(message, line);
        } finally {
            guard.exit();
        }
    }

    /** Turns an exception of a {@code process} call into a failure. */
    protected final ScriptFailure failure(PolyglotException e) {
        if (e.isCancelled()) {
            return new ScriptFailure(ScriptFailure.Cause.STOPPED, "the call was cancelled", 0, true);
        }
        if (e.isInterrupted()) {
            return new ScriptFailure(ScriptFailure.Cause.STOPPED, "the call was interrupted", 0, false);
        }
        if (e.isExit()) {
            return new ScriptFailure(ScriptFailure.Cause.ERROR, "the script called exit", 0, true);
        }
        if (e.isInternalError()) {
            return new ScriptFailure(ScriptFailure.Cause.ERROR, "internal error of the language runtime: " + e.getMessage(), 0, true);
        }
        return new ScriptFailure(ScriptFailure.Cause.ERROR, e.getMessage(), lineOf(e), false);
    }

    /** The line in the script's own file the exception comes from; 0 when none of its frames is in that file. */
    protected final int lineOf(PolyglotException e) {
        SourceSection at = e.getSourceLocation();
        if (at != null && at.getSource() != null && fileName.equals(at.getSource().getName()) && at.hasLines()) {
            return at.getStartLine();
        }
        for (PolyglotException.StackFrame f : e.getPolyglotStackTrace()) {
            SourceSection s = f.getSourceLocation();
            if (f.isGuestFrame() && s != null && s.getSource() != null && fileName.equals(s.getSource().getName()) && s.hasLines()) {
                return s.getStartLine();
            }
        }
        return 0;
    }

    static String describe(Value v) {
        try {
            return v.toString();
        } catch (RuntimeException e) {
            return "a value";
        }
    }

    @Override
    public final void stop(Limit limit, Guard g, long call) {
        if (limit == Limit.TIME) {
            try {
                context.interrupt(Duration.ofSeconds(2));
                return;
            } catch (TimeoutException | RuntimeException e) {
                // Not stopped in time: cancel instead.
            }
        }
        try {
            context.close(true);
        } catch (RuntimeException e) {
            // already closed
        }
    }

    @Override
    public final void close(Guard guard) {
        guard.enter(this);
        try {
            callClose();
        } catch (RuntimeException e) {
            host.log("close() failed: " + e.getMessage());
        } finally {
            guard.exit();
        }
        closeContext();
    }

    private void closeContext() {
        try {
            context.close(true);
        } catch (RuntimeException e) {
            // already closed or cancelled
        }
    }
}
