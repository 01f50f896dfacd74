package io.junction.core;

/**
 * A pattern over routing keys, as AMQP topic exchanges have them: {@code *} stands for exactly one word and
 * {@code #} for zero or more words ({@code bedroom.*.temperature}, {@code #.status}, {@code #}).
 */
public final class RoutingPattern {

    private final String value;
    private final String[] words;
    private final boolean literal;

    private RoutingPattern(String value) {
        this.value = value;
        this.words = value.split("\\.", -1);
        boolean hasWildcard = false;
        for (String word : words) {
            if (word.isEmpty()) {
                throw new IllegalArgumentException("invalid routing-key pattern '" + value + "': it has an empty word");
            }
            if (word.equals("*") || word.equals("#")) {
                hasWildcard = true;
            } else if (word.indexOf('*') >= 0 || word.indexOf('#') >= 0) {
                throw new IllegalArgumentException("invalid routing-key pattern '" + value
                        + "': '*' and '#' must stand alone as a whole word, as in 'bedroom.*.temperature' or 'plant.#'");
            }
        }
        this.literal = !hasWildcard;
    }

    public static RoutingPattern of(String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("invalid routing-key pattern: it is empty (use '#' for every key)");
        }
        if (value.length() > RoutingKey.MAX_LENGTH) {
            throw new IllegalArgumentException("invalid routing-key pattern: longer than " + RoutingKey.MAX_LENGTH + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isWhitespace(c) || Character.isISOControl(c)) {
                throw new IllegalArgumentException("invalid routing-key pattern '" + value + "': it contains white space or a control character");
            }
        }
        return new RoutingPattern(value);
    }

    public static final RoutingPattern ALL = new RoutingPattern("#");

    public String value() {
        return value;
    }

    /** True when the pattern has no wildcard, so it matches exactly one key. */
    public boolean isLiteral() {
        return literal;
    }

    public boolean matches(RoutingKey key) {
        String k = key.value();
        if (literal) {
            return k.equals(value);
        }
        if (words.length == 1 && words[0].equals("#")) {
            return true;
        }
        return matchFrom(0, k, 0);
    }

    /** Matches words[w..] against the key from character position pos (the start of a word, or k.length()+1 at the end). */
    private boolean matchFrom(int w, String k, int pos) {
        int end = k.length();
        while (w < words.length) {
            String word = words[w];
            if (word.equals("#")) {
                if (w == words.length - 1) {
                    return true;
                }
                // '#' takes zero or more words: try each split point.
                int p = pos;
                while (true) {
                    if (matchFrom(w + 1, k, p)) {
                        return true;
                    }
                    if (p > end) {
                        return false;
                    }
                    int dot = k.indexOf('.', p);
                    p = dot < 0 ? end + 1 : dot + 1;
                }
            }
            if (pos > end) {
                return false;
            }
            int dot = k.indexOf('.', pos);
            int wordEnd = dot < 0 ? end : dot;
            if (!word.equals("*") && !k.regionMatches(pos, word, 0, word.length())) {
                return false;
            }
            if (!word.equals("*") && wordEnd - pos != word.length()) {
                return false;
            }
            pos = wordEnd + 1;
            w++;
        }
        return pos == end + 1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RoutingPattern p && p.value.equals(value);
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return value;
    }
}
