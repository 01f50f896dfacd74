package io.junction.core;

import java.util.List;

/**
 * The dotted logical name of a message, such as {@code bedroom.light.brightness}. It can only be built from a valid
 * string, so code further in never checks it again: one or more non-empty words separated by dots, without the
 * pattern characters {@code *} and {@code #}, without white space or control characters.
 */
public record RoutingKey(String value) implements Comparable<RoutingKey> {

    public static final int MAX_LENGTH = 1024;

    public RoutingKey {
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException("invalid routing key '" + value + "': " + problem);
        }
    }

    public static RoutingKey of(String value) {
        return new RoutingKey(value);
    }

    /** Returns why {@code value} is not a routing key, or null when it is one. */
    static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "it is empty";
        }
        if (value.length() > MAX_LENGTH) {
            return "it is longer than " + MAX_LENGTH + " characters";
        }
        char previous = '.';
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '*' || c == '#') {
                return "'" + c + "' is only allowed in patterns";
            }
            if (Character.isWhitespace(c) || Character.isISOControl(c)) {
                return "it contains white space or a control character";
            }
            if (c == '.' && previous == '.') {
                return "it has an empty word";
            }
            previous = c;
        }
        return previous == '.' ? "it has an empty word" : null;
    }

    public static boolean isValid(String value) {
        return problem(value) == null;
    }

    public List<String> words() {
        return List.of(value.split("\\.", -1));
    }

    /** The key with one more word at the end. */
    public RoutingKey child(String word) {
        return new RoutingKey(value + "." + word);
    }

    @Override
    public int compareTo(RoutingKey other) {
        return value.compareTo(other.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
