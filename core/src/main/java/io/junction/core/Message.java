package io.junction.core;

import java.util.Objects;

/**
 * One item on a stream. {@code body} is always the compact text of a JSON object (the pre-processor wraps anything
 * else as {@code {"value": ...}}); it is kept as text so that storing and sending a message never re-encodes it.
 *
 * @param id     a UUID given by the pre-processor
 * @param ts     when the broker received it (or the server created it), in epoch milliseconds
 * @param topic  the MQTT topic it came in on or went out on
 * @param key    its routing key
 * @param device the uid of the device it is about; empty when it is about no device
 * @param kind   {@code status} (from a device), {@code command} (to a device), {@code application}, or another
 *               application kind: lower-case letters, digits, '_' and '-'
 * @param body   a JSON object, as compact text
 */
public record Message(String id, long ts, String topic, RoutingKey key, String device, String kind, String body) {

    public static final String STATUS = "status";
    public static final String COMMAND = "command";
    public static final String APPLICATION = "application";

    public Message {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(body, "body");
        if (!isValidKind(kind)) {
            throw new IllegalArgumentException("invalid message kind '" + kind
                    + "': use lower-case letters, digits, '_' and '-', starting with a letter");
        }
        if (body.isEmpty() || body.charAt(0) != '{') {
            throw new IllegalArgumentException("a message body must be a JSON object, got: " + abbreviate(body));
        }
    }

    public static boolean isValidKind(String kind) {
        if (kind == null || kind.isEmpty() || kind.length() > 64) {
            return false;
        }
        char first = kind.charAt(0);
        if (first < 'a' || first > 'z') {
            return false;
        }
        for (int i = 1; i < kind.length(); i++) {
            char c = kind.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
