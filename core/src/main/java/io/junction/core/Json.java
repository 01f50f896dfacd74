package io.junction.core;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/** The one JSON mapper of the process, and the message shape every API and stream reader sees. */
public final class Json {

    /** Writes records as they are, with {@link java.util.Optional} parts as their value or null. */
    public static final ObjectMapper MAPPER = new ObjectMapper().registerModule(new Jdk8Module());
    private static final JsonFactory FACTORY = MAPPER.getFactory();

    static {
        FACTORY.setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200).build());
    }

    private Json() {
    }

    /** Writes {@code {"offset"?, "id", "ts", "topic", "key", "device", "kind", "body"}}; a negative offset is left out. */
    public static void writeMessage(JsonGenerator g, Message m, long offset) throws IOException {
        g.writeStartObject();
        if (offset >= 0) {
            g.writeNumberField("offset", offset);
        }
        g.writeStringField("id", m.id());
        g.writeNumberField("ts", m.ts());
        g.writeStringField("topic", m.topic());
        g.writeStringField("key", m.key().value());
        g.writeStringField("device", m.device());
        g.writeStringField("kind", m.kind());
        g.writeFieldName("body");
        g.writeRawValue(m.body());
        g.writeEndObject();
    }

    public static String messageToJson(Message m, long offset) {
        StringWriter w = new StringWriter(256 + m.body().length());
        try (JsonGenerator g = FACTORY.createGenerator(w)) {
            writeMessage(g, m, offset);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    public static JsonGenerator generator(ByteArrayOutputStream out) {
        try {
            return FACTORY.createGenerator(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode parse(String json) throws IOException {
        return MAPPER.readTree(json);
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }
}
