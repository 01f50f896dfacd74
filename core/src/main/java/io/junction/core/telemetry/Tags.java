package io.junction.core.telemetry;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The tags of a series (name → value, sorted by name), such as {@code device=dev1}. Two tag sets are equal when
 * their canonical text is: {@code name=value} pairs joined by {@code ,}, with {@code \ , =} escaped by a backslash.
 * That text is what adapters store.
 */
public final class Tags {

    public static final Tags EMPTY = new Tags(Collections.emptySortedMap(), "");

    /** The tag every point from a device carries. */
    public static final String DEVICE = "device";

    private final SortedMap<String, String> map;
    private final String canonical;

    private Tags(SortedMap<String, String> map, String canonical) {
        this.map = map;
        this.canonical = canonical;
    }

    public static Tags of(Map<String, String> tags) {
        if (tags.isEmpty()) {
            return EMPTY;
        }
        TreeMap<String, String> sorted = new TreeMap<>();
        for (Map.Entry<String, String> e : tags.entrySet()) {
            if (e.getKey() == null || e.getKey().isEmpty() || e.getValue() == null) {
                throw new IllegalArgumentException("a tag needs a non-empty name and a value, got " + e.getKey() + "=" + e.getValue());
            }
            sorted.put(e.getKey(), e.getValue());
        }
        return new Tags(Collections.unmodifiableSortedMap(sorted), canonical(sorted));
    }

    public static Tags of(String name, String value) {
        return of(Map.of(name, value));
    }

    /** Parses the canonical text back (as adapters stored it). */
    public static Tags parse(String canonical) {
        if (canonical.isEmpty()) {
            return EMPTY;
        }
        TreeMap<String, String> m = new TreeMap<>();
        StringBuilder name = new StringBuilder();
        StringBuilder value = new StringBuilder();
        StringBuilder cur = name;
        for (int i = 0; i < canonical.length(); i++) {
            char c = canonical.charAt(i);
            if (c == '\\' && i + 1 < canonical.length()) {
                cur.append(canonical.charAt(++i));
            } else if (c == '=' && cur == name) {
                cur = value;
            } else if (c == ',') {
                m.put(name.toString(), value.toString());
                name.setLength(0);
                value.setLength(0);
                cur = name;
            } else {
                cur.append(c);
            }
        }
        m.put(name.toString(), value.toString());
        return new Tags(Collections.unmodifiableSortedMap(m), canonical);
    }

    private static String canonical(SortedMap<String, String> m) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : m.entrySet()) {
            if (!sb.isEmpty()) {
                sb.append(',');
            }
            escape(sb, e.getKey());
            sb.append('=');
            escape(sb, e.getValue());
        }
        return sb.toString();
    }

    private static void escape(StringBuilder sb, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' || c == ',' || c == '=') {
                sb.append('\\');
            }
            sb.append(c);
        }
    }

    public Map<String, String> asMap() {
        return map;
    }

    public Optional<String> get(String name) {
        return Optional.ofNullable(map.get(name));
    }

    public boolean isEmpty() {
        return map.isEmpty();
    }

    /** The canonical text: {@code a=1,b=2}. */
    public String canonical() {
        return canonical;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tags t && t.canonical.equals(canonical);
    }

    @Override
    public int hashCode() {
        return canonical.hashCode();
    }

    @Override
    public String toString() {
        return canonical;
    }
}
