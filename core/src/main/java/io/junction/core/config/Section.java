package io.junction.core.config;

import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseError;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * One table of the config file being read. Each getter validates its value and remembers the key;
 * {@link #finish()} rejects the keys nobody asked for. Every error names the file, the line, the key and what is
 * expected. The spine's settings and every feature's settings are read through it ({@link ConfigLoader}, and each
 * feature's {@code check}), so a feature's errors look like the spine's.
 */
public final class Section {

    private final String file;
    private final TomlTable root;
    private final List<String> path;
    private final TomlTable table;
    private final Set<String> known = new HashSet<>();
    /** Where this table starts, for tables inside lists, whose keys the root cannot locate. */
    private final TomlPosition start;
    /** The environment, for secrets named by {@code ..._env} keys. */
    private final Function<String, String> env;

    /**
     * The root table of {@code text}, read from {@code file}; {@code env} answers the {@code ..._env} keys (secrets)
     * and {@link #env(String)}. Text that is not TOML is a {@link ConfigException} with the line.
     */
    public static Section parse(String file, String text, Function<String, String> env) {
        TomlParseResult toml = Toml.parse(text);
        if (toml.hasErrors()) {
            TomlParseError e = toml.errors().get(0);
            throw new ConfigException(file + ":" + e.position().line() + ": this is not valid TOML: " + e.getMessage());
        }
        return new Section(file, toml, List.of(), toml, null, env);
    }

    private Section(String file, TomlTable root, List<String> path, TomlTable table, TomlPosition start,
                    Function<String, String> env) {
        this.file = file;
        this.root = root;
        this.path = path;
        this.table = table;
        this.start = start;
        this.env = env;
    }

    /** The dotted name of this table ({@code telemetry.postgres}); empty for the root. */
    public String name() {
        return path.isEmpty() ? "" : String.join(".", path);
    }

    private List<String> child(String key) {
        List<String> p = new ArrayList<>(path);
        p.add(key);
        return p;
    }

    /**
     * An error about {@code key} of this table (or the table itself when {@code key} is null):
     * {@code file:line: table.key: sentence}, at the key's line when the file has it, else the table's.
     */
    public ConfigException error(String key, String sentence) {
        TomlPosition pos = key == null || start != null ? null : root.inputPositionOf(child(key));
        if (pos == null && start == null && !path.isEmpty()) {
            pos = root.inputPositionOf(path);
        }
        if (pos == null) {
            pos = start;
        }
        String where = file + (pos != null ? ":" + pos.line() : "");
        String what = key == null ? "[" + name() + "]" : (path.isEmpty() ? key : name() + "." + key);
        return new ConfigException(where + ": " + what + ": " + sentence);
    }

    private Object value(String key) {
        known.add(key);
        return table == null ? null : table.get(List.of(key));
    }

    /** A string, or {@code fallback} when the key is absent. */
    public String string(String key, String fallback) {
        Object v = value(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof String s)) {
            throw error(key, "expected a string in quotes, got " + describe(v));
        }
        return s;
    }

    public Optional<String> optionalString(String key) {
        return Optional.ofNullable(string(key, null));
    }

    /**
     * A secret given either as {@code key} itself or, better, as the name of an environment variable in
     * {@code key_env}; an unset variable is an error.
     */
    public Optional<String> secret(String key) {
        Optional<String> value = optionalString(key);
        Optional<String> variable = optionalString(key + "_env");
        if (variable.isEmpty()) {
            return value;
        }
        if (value.isPresent()) {
            throw error(key + "_env", "give either " + key + " or " + key + "_env, not both");
        }
        String v = env.apply(variable.get());
        if (v == null) {
            throw error(key + "_env", "the environment variable " + variable.get() + " is not set");
        }
        return Optional.of(v);
    }

    /** A whole number from {@code min} to {@code max}, or {@code fallback} when the key is absent. */
    public long integer(String key, long fallback, long min, long max) {
        Object v = value(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Long l)) {
            throw error(key, "expected a whole number from " + min + " to " + max + ", got " + describe(v));
        }
        if (l < min || l > max) {
            throw error(key, "expected a whole number from " + min + " to " + max + ", got " + l);
        }
        return l;
    }

    /** A TCP port (0: the system picks one). */
    public int port(String key, int fallback) {
        return (int) integer(key, fallback, 0, 65535);
    }

    /** {@code true} or {@code false}, or {@code fallback} when the key is absent. */
    public boolean bool(String key, boolean fallback) {
        Object v = value(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Boolean b)) {
            throw error(key, "expected true or false, got " + describe(v));
        }
        return b;
    }

    /** One of the constants of {@code type}, written in any case ("always" for {@code ALWAYS}). */
    public <E extends Enum<E>> E choice(String key, E fallback, Class<E> type) {
        String s = string(key, null);
        if (s == null) {
            return fallback;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(s)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add("\"" + e.name().toLowerCase(java.util.Locale.ROOT) + "\"");
        }
        throw error(key, "expected one of " + String.join(", ", names) + ", got \"" + s + "\"");
    }

    /** A list of strings, or {@code fallback} when the key is absent. */
    public List<String> stringList(String key, List<String> fallback) {
        Object v = value(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof TomlArray a)) {
            throw error(key, "expected a list of strings such as [\"a\", \"b\"], got " + describe(v));
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            if (!(a.get(i) instanceof String s)) {
                throw error(key, "expected a list of strings, but item " + (i + 1) + " is " + describe(a.get(i)));
            }
            out.add(s);
        }
        return List.copyOf(out);
    }

    /** A table whose keys are free (names chosen by the user) and whose values are strings. */
    public Map<String, String> stringMap(String key) {
        Section s = table(key);
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : s.keys()) {
            out.put(k, s.string(k, null));
        }
        return out;
    }

    /** A sub-table; an absent one reads as empty, so its defaults apply. */
    public Section table(String key) {
        Object v = value(key);
        if (v != null && !(v instanceof TomlTable)) {
            throw error(key, "expected a table ([" + (path.isEmpty() ? key : name() + "." + key) + "]), got " + describe(v));
        }
        return new Section(file, root, child(key), (TomlTable) v, start, env);
    }

    /**
     * A list of tables: {@code [[key]]} sections or {@code key = [{...}, {...}]}; absent reads as empty. Each item's
     * name in errors is {@code key[i]} (1-based), at the line where the item starts.
     */
    public List<Section> tableList(String key) {
        Object v = value(key);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof TomlArray a)) {
            throw error(key, "expected a list of tables ([[" + key + "]] sections or [{...}, {...}]), got " + describe(v));
        }
        TomlPosition listStart = root.inputPositionOf(child(key));
        List<Section> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            if (!(a.get(i) instanceof TomlTable t)) {
                throw error(key, "expected a list of tables, but item " + (i + 1) + " is " + describe(a.get(i)));
            }
            TomlPosition at = a.inputPositionOf(i);
            List<String> p = new ArrayList<>(path);
            p.add(key + "[" + (i + 1) + "]");
            out.add(new Section(file, root, p, t, at != null ? at : listStart, env));
        }
        return out;
    }

    /**
     * The whole table as JSON (TOML tables become objects, arrays lists, dates their ISO text), every key accepted:
     * for definitions whose shape the feature that reads them checks, naming {@link #where()} in its errors.
     */
    public com.fasterxml.jackson.databind.node.ObjectNode json() {
        if (table != null) {
            known.addAll(table.keySet());
        }
        return table == null ? io.junction.core.Json.object() : (com.fasterxml.jackson.databind.node.ObjectNode) toJson(table);
    }

    private static com.fasterxml.jackson.databind.JsonNode toJson(Object v) {
        var f = io.junction.core.Json.MAPPER.getNodeFactory();
        if (v instanceof TomlTable t) {
            var o = f.objectNode();
            for (String k : t.keySet()) {
                o.set(k, toJson(t.get(List.of(k))));
            }
            return o;
        }
        if (v instanceof TomlArray a) {
            var arr = f.arrayNode();
            for (int i = 0; i < a.size(); i++) {
                arr.add(toJson(a.get(i)));
            }
            return arr;
        }
        if (v instanceof String s) {
            return f.textNode(s);
        }
        if (v instanceof Long l) {
            return f.numberNode(l);
        }
        if (v instanceof Double d) {
            return f.numberNode(d);
        }
        if (v instanceof Boolean b) {
            return f.booleanNode(b);
        }
        return f.textNode(String.valueOf(v));
    }

    /** {@code file:line} of this table, for errors found after reading. */
    public String where() {
        String message = error(null, "").getMessage();
        int cut = message.indexOf(": [");
        return cut > 0 ? message.substring(0, cut) : message;
    }

    /** A variable of the environment the file is read in. */
    public Optional<String> env(String name) {
        return Optional.ofNullable(env.apply(name)).filter(v -> !v.isEmpty());
    }

    /** Whether the file has this table at all. */
    public boolean present() {
        return table != null;
    }

    /** The keys the file gives in this table (for tables whose keys are names chosen by the user). */
    public Set<String> keys() {
        return table == null ? Set.of() : table.keySet();
    }

    /** Rejects every key of this table that no getter asked for. */
    public void finish() {
        if (table == null) {
            return;
        }
        for (String k : table.keySet()) {
            if (!known.contains(k)) {
                List<String> sorted = new ArrayList<>(known);
                sorted.sort(null);
                throw error(k, "unknown key" + (sorted.isEmpty() ? "" : "; the keys allowed here are " + String.join(", ", sorted)));
            }
        }
    }

    private static String describe(Object v) {
        if (v instanceof String s) {
            return "\"" + s + "\"";
        }
        if (v instanceof TomlTable) {
            return "a table";
        }
        if (v instanceof TomlArray) {
            return "a list";
        }
        return String.valueOf(v);
    }
}
