package io.junction.core.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.junction.core.Json;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a handler answers: a status, a content type and the body bytes, plus extra headers.
 *
 * @param contentType empty when there is no body
 * @param headers     extra headers (not Content-Type, not Content-Length)
 */
public record ApiResponse(int status, String contentType, byte[] body, Map<String, String> headers) {

    public static final String JSON = "application/json";
    public static final String TEXT = "text/plain; charset=utf-8";

    private static final byte[] EMPTY = new byte[0];

    public ApiResponse {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("not an HTTP status: " + status);
        }
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
        headers = Map.copyOf(headers);
    }

    /** 200 with {@code value} written as JSON (a {@code JsonNode}, a record, a map, a list, ...). */
    public static ApiResponse json(Object value) {
        return json(200, value);
    }

    public static ApiResponse json(int status, Object value) {
        try {
            return new ApiResponse(status, JSON, Json.MAPPER.writeValueAsBytes(value), Map.of());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** JSON text that is already written; it is sent as it is, without being checked. */
    public static ApiResponse rawJson(int status, String json) {
        return new ApiResponse(status, JSON, json.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    /** JSON bytes that are already written (UTF-8); they are sent as they are, without being checked. */
    public static ApiResponse rawJson(int status, byte[] json) {
        return new ApiResponse(status, JSON, json, Map.of());
    }

    public static ApiResponse text(int status, String text) {
        return new ApiResponse(status, TEXT, text.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    public static ApiResponse text(int status, String contentType, String text) {
        return new ApiResponse(status, contentType, text.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    /** A response without a body, such as 204. */
    public static ApiResponse status(int status) {
        return new ApiResponse(status, "", EMPTY, Map.of());
    }

    /** {@code {"error": ..., "detail": ...}} */
    public static ApiResponse error(int status, String error, String detail) {
        var body = Json.object().put("error", error).put("detail", detail);
        return json(status, body);
    }

    public ApiResponse withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new ApiResponse(status, contentType, body, h);
    }

    public ApiResponse withHeaders(Map<String, String> more) {
        if (more.isEmpty()) {
            return this;
        }
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.putAll(more);
        return new ApiResponse(status, contentType, body, h);
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "ApiResponse[" + status + " " + contentType + ", " + body.length + " bytes]";
    }
}
