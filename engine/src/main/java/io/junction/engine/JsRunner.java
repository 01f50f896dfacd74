package io.junction.engine;

import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;

import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.proxy.ProxyExecutable;

/**
 * A JavaScript script in its own GraalJS context. Messages cross into the context as plain arguments with the body
 * as JSON text, parsed by the context's own {@code JSON.parse}; outputs come back as one string ({@code key \0 kind
 * \0 body-json \1} per output) made with {@code JSON.stringify}. Crossing the polyglot boundary with strings is far
 * cheaper in the interpreter than walking guest objects from Java.
 */
final class JsRunner extends PolyglotRunner {

    /** Runs before the user's code: defines {@code junction} and returns the engine's entry points into the script. */
    private static final String PRELUDE = """
            (function (hostLog, hostStatus, hostExec, name, bindJson) {
              const S = JSON.stringify, P = JSON.parse;
              const text = (a) => { if (typeof a === 'string') return a; try { return S(a); } catch (e) { return String(a); } };
              const junction = Object.freeze({
                name: name,
                bind: Object.freeze(P(bindJson)),
                log: (...args) => { hostLog(args.map(text).join(' ')); },
                status: (key) => { const t = hostStatus(String(key)); return t == null ? null : P(t); },
                exec: (target, fn, args) => P(hostExec(String(target), String(fn), args === undefined ? 'null' : S(args))),
              });
              globalThis.junction = junction;
              // Plain loops and no temporary arrays: the interpreter pays for every iterator and allocation.
              const one = (o) => {
                if (o === null || typeof o !== 'object') {
                  throw new TypeError('process() must return nothing, an object {key, body} or a list of them; got ' + text(o));
                }
                const key = o.key, body = o.body, kind = o.kind;
                if (typeof key !== 'string') throw new TypeError('an output needs a "key" string; got ' + text(key));
                if (body === undefined) throw new TypeError('the output for "' + key + '" has no "body"');
                return key + '\u0000' + (kind === undefined ? '' : String(kind)) + '\u0000' + S(body) + '\u0001';
              };
              const out = (r) => {
                if (r === undefined || r === null) return null;
                if (!Array.isArray(r)) return one(r);
                let s = '';
                for (let i = 0; i < r.length; i++) s += one(r[i]);
                return s;
              };
              return {
                defined: () => typeof process === 'function',
                process: (offset, id, ts, topic, key, device, kind, body) =>
                  out(process({offset, id, ts, topic, key, device, kind, body: P(body)})),
                init: () => { if (typeof init === 'function') init(junction); },
                close: () => { if (typeof close === 'function') close(); },
              };
            })
            """;

    private Value entry;
    private Value initFn;
    private Value closeFn;
    private Value definedFn;

    JsRunner(Polyglot polyglot, ScriptSource source, Host host, Guard guard) {
        super(polyglot, source, host);
        load(source, guard);
    }

    @Override
    protected void prepare() {
        Value api = context.eval(Source.newBuilder("js", PRELUDE, "junction-prelude.js").buildLiteral())
                .execute((ProxyExecutable) args -> {
                    host.log(args.length == 0 ? "" : args[0].asString());
                    return null;
                }, (ProxyExecutable) args -> host.statusJson(args.length == 0 ? "" : args[0].asString()).orElse(null),
                        (ProxyExecutable) args -> host.execJson(args[0].asString(), args[1].asString(), args[2].asString()),
                        host.scriptName, io.junction.core.Json.write(host.bind));
        entry = api.getMember("process");
        initFn = api.getMember("init");
        closeFn = api.getMember("close");
        definedFn = api.getMember("defined");
    }

    @Override
    protected boolean hasProcess() {
        return definedFn.execute().asBoolean();
    }

    @Override
    protected void callInit() {
        initFn.execute();
    }

    @Override
    protected void callClose() {
        closeFn.execute();
    }

    @Override
    public void process(StreamEntry e, Outputs outputs) throws ScriptFailure {
        Message m = e.message();
        String result;
        try {
            Value r = entry.execute(e.offset(), m.id(), m.ts(), m.topic(), m.key().value(), m.device(), m.kind(), m.body());
            if (r.isNull()) {
                return;
            }
            result = r.asString();
        } catch (PolyglotException ex) {
            throw failure(ex);
        } catch (IllegalStateException ex) {
            throw new ScriptFailure(ScriptFailure.Cause.STOPPED, "the script's context is closed", 0, true);
        }
        parse(result, outputs);
    }

    /** Reads {@code key \0 kind \0 body \1} records. JSON text never holds a raw \0 or \1, and a key that does is refused later. */
    static void parse(String s, Outputs outputs) throws ScriptFailure {
        int at = 0;
        int n = s.length();
        while (at < n) {
            int end = s.indexOf('\u0001', at);
            int k = s.indexOf('\u0000', at);
            int b = k < 0 ? -1 : s.indexOf('\u0000', k + 1);
            if (end < 0 || k < 0 || b < 0 || b > end) {
                throw ScriptFailure.error("an output key must not contain control characters");
            }
            outputs.add(s.substring(at, k), s.substring(k + 1, b), s.substring(b + 1, end));
            at = end + 1;
        }
    }
}
