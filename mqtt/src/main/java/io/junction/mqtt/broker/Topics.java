package io.junction.mqtt.broker;

/** Checks and matches MQTT topic names and topic filters, without allocating. */
final class Topics {

    /** The longest topic or filter, in UTF-16 chars; longer ones cannot fit in an MQTT string anyway. */
    static final int MAX_LENGTH = 65_535;

    private Topics() {
    }

    /** Why a PUBLISH topic name is unusable; {@code null} means it is fine. */
    enum TopicProblem { EMPTY, WILDCARD, BAD_UTF8, NUL }

    /** Checks a topic name a client or the server publishes to. */
    static TopicProblem checkTopicName(String topic) {
        if (topic == null || topic.isEmpty()) {
            return TopicProblem.EMPTY;
        }
        for (int i = 0, n = topic.length(); i < n; i++) {
            char c = topic.charAt(i);
            if (c == '+' || c == '#') {
                return TopicProblem.WILDCARD;
            }
            if (c == '\0') {
                return TopicProblem.NUL;
            }
            // Netty decodes malformed UTF-8 as U+FFFD, so a replacement char stands for bytes that were not UTF-8.
            if (c == '\uFFFD' || Character.isSurrogate(c) && !validSurrogateAt(topic, i)) {
                return TopicProblem.BAD_UTF8;
            }
        }
        return null;
    }

    /** Whether {@code filter} is a valid subscription filter: '+' and '#' fill whole levels, '#' only last. */
    static boolean isValidFilter(String filter) {
        if (filter == null || filter.isEmpty() || filter.length() > MAX_LENGTH) {
            return false;
        }
        int n = filter.length();
        for (int i = 0; i < n; i++) {
            char c = filter.charAt(i);
            if (c == '\0' || c == '\uFFFD') {
                return false;
            }
            if (c == '+' || c == '#') {
                boolean startsLevel = i == 0 || filter.charAt(i - 1) == '/';
                boolean endsLevel = i == n - 1 || filter.charAt(i + 1) == '/';
                if (!startsLevel || !endsLevel || c == '#' && i != n - 1) {
                    return false;
                }
            }
        }
        return true;
    }

    /** MQTT 5 shared subscriptions, which this broker does not offer. */
    static boolean isShared(String filter) {
        return filter.startsWith("$share/");
    }

    /**
     * Whether topic name {@code topic} matches {@code filter}. With {@code dollarRule}, a topic starting with
     * '$' is not matched by a filter starting with a wildcard, as MQTT requires for subscriptions.
     */
    static boolean matches(String filter, String topic, boolean dollarRule) {
        if (dollarRule && !topic.isEmpty() && topic.charAt(0) == '$'
                && !filter.isEmpty() && (filter.charAt(0) == '+' || filter.charAt(0) == '#')) {
            return false;
        }
        int f = 0;
        int t = 0;
        int fn = filter.length();
        int tn = topic.length();
        while (true) {
            int fEnd = levelEnd(filter, f);
            if (fEnd - f == 1 && filter.charAt(f) == '#') {
                return true;
            }
            if (t > tn) {
                // The topic has no level left; "a/#" still matches "a".
                return false;
            }
            int tEnd = levelEnd(topic, t);
            boolean levelMatches = fEnd - f == 1 && filter.charAt(f) == '+'
                    || fEnd - f == tEnd - t && filter.regionMatches(f, topic, t, fEnd - f);
            if (!levelMatches) {
                return false;
            }
            f = fEnd + 1;
            t = tEnd + 1;
            if (f > fn) {
                return t > tn;
            }
            if (t > tn) {
                // The topic ended; only a final "#" level may remain in the filter.
                return fn - f == 1 && filter.charAt(f) == '#';
            }
        }
    }

    /**
     * Whether every topic that {@code requested} matches is also matched by {@code allowed} (used to check a
     * subscription against access rules; the '$' rule is not applied).
     */
    static boolean covers(String allowed, String requested) {
        int a = 0;
        int r = 0;
        int an = allowed.length();
        int rn = requested.length();
        while (true) {
            int aEnd = levelEnd(allowed, a);
            boolean aHash = aEnd - a == 1 && allowed.charAt(a) == '#';
            if (aHash) {
                return true;
            }
            if (r > rn) {
                return false;
            }
            int rEnd = levelEnd(requested, r);
            boolean rHash = rEnd - r == 1 && requested.charAt(r) == '#';
            boolean rPlus = rEnd - r == 1 && requested.charAt(r) == '+';
            boolean aPlus = aEnd - a == 1 && allowed.charAt(a) == '+';
            if (rHash) {
                return false;
            }
            if (!aPlus && (rPlus || aEnd - a != rEnd - r || !allowed.regionMatches(a, requested, r, aEnd - a))) {
                return false;
            }
            a = aEnd + 1;
            r = rEnd + 1;
            if (a > an) {
                return r > rn;
            }
            if (r > rn) {
                // "x/#" covers "x": everything left in allowed must be a final '#'.
                return an - a == 1 && allowed.charAt(a) == '#';
            }
        }
    }

    /** Whether {@code bytes} are well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
    static boolean isValidUtf8(byte[] bytes) {
        int i = 0;
        int n = bytes.length;
        while (i < n) {
            int b = bytes[i];
            if (b >= 0) {
                i++;
                continue;
            }
            b &= 0xFF;
            if (b >= 0xC2 && b <= 0xDF) {
                if (i + 1 >= n || !cont(bytes[i + 1])) {
                    return false;
                }
                i += 2;
            } else if (b >= 0xE0 && b <= 0xEF) {
                if (i + 2 >= n || !cont(bytes[i + 1]) || !cont(bytes[i + 2])) {
                    return false;
                }
                int b1 = bytes[i + 1] & 0xFF;
                if (b == 0xE0 && b1 < 0xA0 || b == 0xED && b1 > 0x9F) {
                    return false;
                }
                i += 3;
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (i + 3 >= n || !cont(bytes[i + 1]) || !cont(bytes[i + 2]) || !cont(bytes[i + 3])) {
                    return false;
                }
                int b1 = bytes[i + 1] & 0xFF;
                if (b == 0xF0 && b1 < 0x90 || b == 0xF4 && b1 > 0x8F) {
                    return false;
                }
                i += 4;
            } else {
                return false;
            }
        }
        return true;
    }

    private static boolean cont(byte b) {
        return (b & 0xC0) == 0x80;
    }

    private static boolean validSurrogateAt(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }

    /** Index of the '/' ending the level that starts at {@code from}, or the string's length. */
    static int levelEnd(String s, int from) {
        int slash = s.indexOf('/', from);
        return slash < 0 ? s.length() : slash;
    }
}
