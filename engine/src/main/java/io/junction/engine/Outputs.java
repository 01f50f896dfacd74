package io.junction.engine;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.stream.StreamEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * What one call of a script returned, checked and turned into processed-stream messages. Reused call after call by
 * the thread that owns it. Limits: {@value #MAX} outputs per message and {@value #MAX_BODY_CHARS} characters per body.
 */
final class Outputs {

    static final int MAX = 100;
    static final int MAX_BODY_CHARS = 256 * 1024;
    static final String DEFAULT_KIND = "processed";
    static final String REPLAYED_KIND = "replayed";

    private record Output(String key, String kind, String body) {
    }

    private final ArrayList<Object> items = new ArrayList<>();

    void clear() {
        items.clear();
    }

    int size() {
        return items.size();
    }

    /** One output: {@code kind} may be empty (the default kind); {@code body} is JSON text of any value. */
    void add(String key, String kind, String body) throws ScriptFailure {
        if (items.size() >= MAX) {
            throw ScriptFailure.error("a message may give at most " + MAX + " outputs");
        }
        items.add(new Output(key, kind, body));
    }

    /** The source message itself, unchanged (pass-through). */
    void copy(Message m) {
        items.add(m);
    }

    /**
     * Builds the messages for the processed stream: key and kind checked, a body that is not a JSON object wrapped as
     * {@code {"value": ...}}, the id derived from the source so a repeat gives the same id, and {@code ts}, topic and
     * device taken from the source. {@code kindOverride} (the replay's mark) replaces every kind when not null.
     */
    void build(StreamEntry source, OutputIds ids, String kindOverride, List<Message> into) throws ScriptFailure {
        Message src = source.message();
        int start = into.size();
        for (int i = 0; i < items.size(); i++) {
            Object item = items.get(i);
            if (item instanceof Message m) {
                into.add(kindOverride == null ? m
                        : new Message(ids.id(src.ts(), source.offset(), i), m.ts(), m.topic(), m.key(), m.device(), kindOverride, m.body()));
                continue;
            }
            Output o = (Output) item;
            RoutingKey key;
            try {
                key = RoutingKey.of(o.key);
            } catch (IllegalArgumentException e) {
                into.subList(start, into.size()).clear();
                throw ScriptFailure.error("output " + (i + 1) + ": " + e.getMessage());
            }
            String kind = o.kind == null || o.kind.isEmpty() ? DEFAULT_KIND : o.kind;
            if (!Message.isValidKind(kind)) {
                into.subList(start, into.size()).clear();
                throw ScriptFailure.error("output " + (i + 1) + ": invalid kind '" + kind
                        + "': use lower-case letters, digits, '_' and '-', starting with a letter");
            }
            String body = o.body;
            if (body == null || body.isEmpty() || body.equals("undefined")) {
                into.subList(start, into.size()).clear();
                throw ScriptFailure.error("output " + (i + 1) + " (key '" + o.key + "') has no body");
            }
            if (body.charAt(0) != '{') {
                body = "{\"value\":" + body + "}";
            }
            if (body.length() > MAX_BODY_CHARS) {
                into.subList(start, into.size()).clear();
                throw ScriptFailure.error("output " + (i + 1) + " (key '" + o.key + "') has a body of " + body.length()
                        + " characters; at most " + MAX_BODY_CHARS + " are accepted");
            }
            into.add(new Message(ids.id(src.ts(), source.offset(), i), src.ts(), src.topic(), key,
                    src.device(), kindOverride != null ? kindOverride : kind, body));
        }
    }
}
