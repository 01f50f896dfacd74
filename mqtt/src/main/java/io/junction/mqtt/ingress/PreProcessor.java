package io.junction.mqtt.ingress;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

import io.junction.core.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Turns a payload into a message body, which is always a JSON object: a JSON object stays as it is; any other JSON
 * value is wrapped as {@code {"value": ...}} (so {@code 255} becomes {@code {"value":255}}: numbers stay numbers);
 * text that is not JSON is wrapped as a string; bytes that are not UTF-8 are wrapped as
 * {@code {"value": "<base64>", "encoding": "base64"}}, so nothing a device sends is lost.
 */
public final class PreProcessor {

    private static final JsonFactory FACTORY = Json.MAPPER.getFactory();
    private static final ThreadLocal<CharsetDecoder> DECODER = ThreadLocal.withInitial(() -> StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT));

    private PreProcessor() {
    }

    public static String body(byte[] payload) {
        String text;
        try {
            text = DECODER.get().reset().decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            return "{\"value\":\"" + Base64.getEncoder().encodeToString(payload) + "\",\"encoding\":\"base64\"}";
        }
        String trimmed = text.strip();
        if (trimmed.isEmpty()) {
            return "{\"value\":\"\"}";
        }
        JsonToken first = singleJsonValue(trimmed);
        if (first == JsonToken.START_OBJECT) {
            return trimmed;
        }
        if (first != null) {
            return "{\"value\":" + trimmed + "}";
        }
        return "{\"value\":\"" + new String(JsonStringEncoder.getInstance().quoteAsString(text)) + "\"}";
    }

    /** The first token when {@code text} is exactly one JSON value, else null. */
    private static JsonToken singleJsonValue(String text) {
        char c = text.charAt(0);
        // Fast exit for plain text: a JSON value starts with one of these.
        if (!(c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n')) {
            return null;
        }
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                return null;
            }
            p.skipChildren();
            if (p.nextToken() != null) {
                return null;
            }
            return first;
        } catch (IOException e) {
            return null;
        }
    }

}
