package io.junction.engine;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;

import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.proxy.ProxyArray;
import org.graalvm.polyglot.proxy.ProxyExecutable;
import org.graalvm.polyglot.proxy.ProxyHashMap;
import org.graalvm.polyglot.proxy.ProxyObject;

import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Python script in its own GraalPy context. GraalPy's {@code json} module is slow in the interpreter (tens of
 * microseconds a message), so messages are handed over as mappings built in Java ({@code m["body"]["value"]}) and
 * outputs are read back from the returned dicts by Java.
 */
final class PythonRunner extends PolyglotRunner {

    private static final int MAX_DEPTH = 64;

    private Value bindings;
    private Value processFn;

    PythonRunner(Polyglot polyglot, ScriptSource source, Host host, Guard guard) {
        super(polyglot, source, host);
        load(source, guard);
    }

    @Override
    protected void prepare() {
        bindings = context.getBindings("python");
        Map<String, Object> junction = new LinkedHashMap<>();
        junction.put("name", host.scriptName);
        junction.put("bind", ProxyArray.fromList(new ArrayList<>(host.bind)));
        junction.put("log", (ProxyExecutable) args -> {
            StringBuilder sb = new StringBuilder();
            for (Value a : args) {
                if (!sb.isEmpty()) {
                    sb.append(' ');
                }
                sb.append(a.isString() ? a.asString() : describe(a));
            }
            host.log(sb.toString());
            return null;
        });
        junction.put("status", (ProxyExecutable) args -> {
            if (args.length == 0 || !args[0].isString()) {
                return null;
            }
            return host.statusMessage(args[0].asString()).map(m -> toGuest(m, -1)).orElse(null);
        });
        junction.put("exec", (ProxyExecutable) args -> {
            if (args.length < 2 || !args[0].isString() || !args[1].isString()) {
                throw new IllegalArgumentException("exec(target, function, args=None): target and function are strings");
            }
            String argsJson;
            try {
                argsJson = args.length < 3 || args[2].isNull() ? "null" : json(args[2]);
            } catch (ScriptFailure f) {
                throw new IllegalArgumentException("exec arguments cannot be written as JSON: " + f.getMessage());
            }
            String result = host.execJson(args[0].asString(), args[1].asString(), argsJson);
            try {
                return toGuest(Json.MAPPER.readTree(result));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        bindings.putMember("junction", ProxyObject.fromMap(junction));
    }

    @Override
    protected boolean hasProcess() {
        processFn = bindings.getMember("process");
        return processFn != null && processFn.canExecute();
    }

    @Override
    protected void callInit() {
        Value init = bindings.getMember("init");
        if (init != null && init.canExecute()) {
            init.execute(bindings.getMember("junction"));
        }
    }

    @Override
    protected void callClose() {
        Value close = bindings.getMember("close");
        if (close != null && close.canExecute()) {
            close.execute();
        }
    }

    @Override
    public void process(StreamEntry e, Outputs outputs) throws ScriptFailure {
        Value result;
        try {
            result = processFn.execute(toGuest(e.message(), e.offset()));
            if (result.isNull()) {
                return;
            }
            if (result.hasHashEntries()) {
                output(result, 1, outputs);
            } else if (result.hasArrayElements()) {
                long n = result.getArraySize();
                for (long i = 0; i < n; i++) {
                    output(result.getArrayElement(i), (int) i + 1, outputs);
                }
            } else {
                throw ScriptFailure.error("process() must return None, a dict {\"key\", \"body\"} or a list of them; got "
                        + describe(result));
            }
        } catch (PolyglotException ex) {
            throw failure(ex);
        } catch (IllegalStateException ex) {
            throw new ScriptFailure(ScriptFailure.Cause.STOPPED, "the script's context is closed", 0, true);
        }
    }

    private static void output(Value o, int index, Outputs outputs) throws ScriptFailure {
        if (!o.hasHashEntries()) {
            throw ScriptFailure.error("output " + index + " must be a dict {\"key\", \"body\"}; got " + describe(o));
        }
        Value key = o.hasHashEntry("key") ? o.getHashValue("key") : null;
        if (key == null || !key.isString()) {
            throw ScriptFailure.error("output " + index + " needs a \"key\" string");
        }
        if (!o.hasHashEntry("body")) {
            throw ScriptFailure.error("output " + index + " (key '" + key.asString() + "') has no \"body\"");
        }
        Value kind = o.hasHashEntry("kind") ? o.getHashValue("kind") : null;
        outputs.add(key.asString(), kind == null || kind.isNull() ? "" : describe(kind), json(o.getHashValue("body")));
    }

    /** The message as a Python mapping: its fields, and its body as nested mappings and sequences. */
    private static Object toGuest(Message m, long offset) {
        Map<Object, Object> map = new LinkedHashMap<>();
        if (offset >= 0) {
            map.put("offset", offset);
        }
        map.put("id", m.id());
        map.put("ts", m.ts());
        map.put("topic", m.topic());
        map.put("key", m.key().value());
        map.put("device", m.device());
        map.put("kind", m.kind());
        try {
            map.put("body", toGuest(Json.parse(m.body())));
        } catch (IOException e) {
            map.put("body", ProxyHashMap.from(new LinkedHashMap<>()));
        }
        return ProxyHashMap.from(map);
    }

    private static Object toGuest(JsonNode n) {
        if (n.isObject()) {
            Map<Object, Object> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> f : n.properties()) {
                map.put(f.getKey(), toGuest(f.getValue()));
            }
            return ProxyHashMap.from(map);
        }
        if (n.isArray()) {
            List<Object> list = new ArrayList<>(n.size());
            for (JsonNode x : n) {
                list.add(toGuest(x));
            }
            return ProxyArray.fromList(list);
        }
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            return n.longValue();
        }
        if (n.isNumber()) {
            return n.doubleValue();
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isNull()) {
            return null;
        }
        return n.asText();
    }

    /** A Python value (dicts, lists, tuples, strings, numbers, booleans, None) as compact JSON text. */
    static String json(Value v) throws ScriptFailure {
        StringWriter w = new StringWriter(64);
        try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(w)) {
            write(g, v, 0);
        } catch (IOException e) {
            throw ScriptFailure.error("the body cannot be written as JSON: " + e.getMessage());
        }
        return w.toString();
    }

    private static void write(JsonGenerator g, Value v, int depth) throws IOException, ScriptFailure {
        if (depth > MAX_DEPTH) {
            throw ScriptFailure.error("the body is nested more than " + MAX_DEPTH + " levels deep");
        }
        if (v.isNull()) {
            g.writeNull();
        } else if (v.isBoolean()) {
            g.writeBoolean(v.asBoolean());
        } else if (v.isString()) {
            g.writeString(v.asString());
        } else if (v.isNumber()) {
            if (v.fitsInLong()) {
                g.writeNumber(v.asLong());
            } else if (v.fitsInDouble() && Double.isFinite(v.asDouble())) {
                g.writeNumber(v.asDouble());
            } else {
                throw ScriptFailure.error("the number " + describe(v) + " cannot be written as JSON");
            }
        } else if (v.hasHashEntries()) {
            g.writeStartObject();
            Value keys = v.getHashKeysIterator();
            while (keys.hasIteratorNextElement()) {
                Value k = keys.getIteratorNextElement();
                if (!k.isString()) {
                    throw ScriptFailure.error("a JSON object's keys must be strings; got " + describe(k));
                }
                g.writeFieldName(k.asString());
                write(g, v.getHashValue(k), depth + 1);
            }
            g.writeEndObject();
        } else if (v.hasArrayElements()) {
            g.writeStartArray();
            long n = v.getArraySize();
            for (long i = 0; i < n; i++) {
                write(g, v.getArrayElement(i), depth + 1);
            }
            g.writeEndArray();
        } else {
            Value type = v.getMetaObject();
            throw ScriptFailure.error("a " + (type == null ? "value" : describe(type)) + " cannot be written as JSON: " + describe(v));
        }
    }
}
