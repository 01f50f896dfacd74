package io.junction.scaleout.kafka;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * How a message is a Kafka record: the value is the message as compact JSON {@code {"id","ts","topic","key","device",
 * "kind","body"}} with {@code body} embedded as the JSON object it is (so any Kafka tool can read it), the key is the
 * device's uid (none for a message about no device), the record's timestamp is the message's time.
 */
final class RecordCodec {

    private static final JsonFactory FACTORY = Json.MAPPER.getFactory();

    private RecordCodec() {
    }

    /** The record key: the device uid's UTF-8 bytes, or null when the message is about no device. */
    static byte[] key(Message m) {
        return m.device().isEmpty() ? null : m.device().getBytes(StandardCharsets.UTF_8);
    }

    static byte[] value(Message m) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(160 + m.body().length());
        try (JsonGenerator g = Json.generator(out)) {
            Json.writeMessage(g, m, -1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * The message a record value holds. Fails with {@link NotAMessageException} when it is not one (another producer
     * wrote to the topic): the body is taken back as the exact text that was written, never re-encoded.
     */
    static Message decode(byte[] value) {
        if (value == null || value.length == 0) {
            throw new NotAMessageException("an empty record value");
        }
        String id = null;
        String topic = null;
        String key = null;
        String device = null;
        String kind = null;
        String body = null;
        long ts = 0;
        boolean hasTs = false;
        try (JsonParser p = FACTORY.createParser(value)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new NotAMessageException("the value is not a JSON object");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "id" -> id = text(p, v, field);
                    case "topic" -> topic = text(p, v, field);
                    case "key" -> key = text(p, v, field);
                    case "device" -> device = text(p, v, field);
                    case "kind" -> kind = text(p, v, field);
                    case "ts" -> {
                        if (v != JsonToken.VALUE_NUMBER_INT) {
                            throw new NotAMessageException("'ts' is not an integer");
                        }
                        ts = p.getLongValue();
                        hasTs = true;
                    }
                    case "body" -> {
                        if (v != JsonToken.START_OBJECT) {
                            throw new NotAMessageException("'body' is not a JSON object");
                        }
                        long start = p.currentTokenLocation().getByteOffset();
                        p.skipChildren();
                        long end = p.currentLocation().getByteOffset();
                        if (start < 0 || end <= start || end > value.length) {
                            throw new NotAMessageException("cannot locate 'body'");
                        }
                        body = new String(value, (int) start, (int) (end - start), StandardCharsets.UTF_8);
                    }
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw new NotAMessageException("the JSON object is not complete");
            }
        } catch (JsonProcessingException e) {
            throw new NotAMessageException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new NotAMessageException("not JSON: " + e.getMessage());
        }
        if (id == null || !hasTs || topic == null || key == null || kind == null || body == null) {
            throw new NotAMessageException("it lacks one of id, ts, topic, key, kind, body");
        }
        try {
            return new Message(id, ts, topic, RoutingKey.of(key), device == null ? "" : device, kind, body);
        } catch (IllegalArgumentException e) {
            throw new NotAMessageException(e.getMessage());
        }
    }

    private static String text(JsonParser p, JsonToken v, String field) throws IOException {
        if (v != JsonToken.VALUE_STRING) {
            throw new NotAMessageException("'" + field + "' is not a string");
        }
        return p.getText();
    }

    /** A record that does not hold a Junction message. */
    static final class NotAMessageException extends RuntimeException {

        private static final long serialVersionUID = 1L;

        NotAMessageException(String reason) {
            super(reason, null, false, false);
        }
    }
}
