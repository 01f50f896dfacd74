package io.junction.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.device.DeviceDirectory;
import io.junction.core.device.DeviceFacts;
import io.junction.core.device.DeviceInfo;
import io.junction.core.egress.CommandSender;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.ComponentState;
import io.junction.core.hub.EventHub;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The REST routes of the spine: health, devices, status, paging through a stream, and sending a command.
 * Each route reads its ports and writes JSON; messages are written with a streaming generator, never as trees.
 */
public final class SpineRoutes {

    /** Messages per page when the client does not say. */
    public static final int DEFAULT_LIMIT = 100;
    /** The most messages one page may ask for. */
    public static final int MAX_LIMIT = 10_000;

    private static final String PATTERN_HELP =
            "a pattern is dotted words where '*' stands for one word and '#' for zero or more, as in 'bedroom.#' or '*.light.brightness'";
    private static final String COMMAND_SHAPE = "a command is {\"key\": \"bedroom.light.brightness\", \"body\": {\"value\": 0}}";

    private final Map<String, MessageStream> streams;
    private final StatusStore status;
    private final DeviceDirectory devices;
    private final DeviceFacts facts;
    private final CommandSender commands;
    private final EventHub hub;
    private final Clock clock;
    private final Duration commandTimeout;

    private SpineRoutes(Builder b) {
        this.streams = Map.copyOf(b.streams);
        this.status = Objects.requireNonNull(b.status, "status");
        this.devices = Objects.requireNonNull(b.devices, "devices");
        this.facts = b.facts;
        this.commands = Objects.requireNonNull(b.commands, "commands");
        this.hub = Objects.requireNonNull(b.hub, "hub");
        this.clock = Objects.requireNonNull(b.clock, "clock");
        this.commandTimeout = b.commandTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Adds the spine's routes to {@code table}. */
    public void register(RouteTable table) {
        table.add(Method.GET, "/api/health", Access.OPEN, r -> health());
        table.add(Method.GET, "/api/devices", r -> devices());
        table.add(Method.GET, "/api/devices/{uid}", r -> device(r.pathParam("uid")));
        table.add(Method.GET, "/api/status", this::status);
        table.add(Method.GET, "/api/streams/{stream}", this::page);
        table.add(Method.POST, "/api/commands", this::command);
    }

    private ApiResponse health() throws IOException {
        List<ComponentState> components = hub.components();
        boolean ready = components.stream().allMatch(c -> c.status() == ComponentState.Status.READY);
        boolean failing = components.stream().anyMatch(c -> c.status() == ComponentState.Status.FAILED
                || c.status() == ComponentState.Status.STOPPED);
        String overall = ready ? "ok" : failing ? "failing" : "starting";
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = Json.generator(out)) {
            g.writeStartObject();
            g.writeStringField("status", overall);
            g.writeBooleanField("ready", ready);
            g.writeNumberField("time", clock.millis());
            g.writeArrayFieldStart("components");
            for (ComponentState c : components) {
                g.writeStartObject();
                g.writeStringField("name", c.name());
                g.writeStringField("status", c.status().name().toLowerCase(Locale.ROOT));
                g.writeStringField("detail", c.detail());
                g.writeNumberField("since", c.since());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        return ApiResponse.rawJson(ready ? 200 : 503, out.toByteArray());
    }

    private ApiResponse devices() {
        List<ObjectNode> list = devices.list().stream().map(this::withFacts).toList();
        return ApiResponse.rawJson(200, writeJson(Map.of("devices", list)));
    }

    private ApiResponse device(String uid) {
        DeviceInfo info = devices.get(uid).orElseThrow(() -> ApiException.notFound("no device with uid or client id '" + uid + "'"));
        return ApiResponse.rawJson(200, writeJson(withFacts(info)));
    }

    /** The device's record with what the features know of it (e.g. {@code firmwareVersion}). */
    private ObjectNode withFacts(DeviceInfo info) {
        ObjectNode node = Json.MAPPER.valueToTree(info);
        facts.of(info.uid()).forEach((name, value) -> node.set(name, Json.MAPPER.valueToTree(value)));
        return node;
    }

    private ApiResponse status(ApiRequest r) throws IOException {
        String text = r.query("key").orElse("#");
        RoutingPattern pattern;
        try {
            pattern = RoutingPattern.of(text);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("query parameter 'key': " + e.getMessage() + "; " + PATTERN_HELP);
        }
        List<Message> found = status.find(pattern);
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 + 256 * found.size());
        try (JsonGenerator g = Json.generator(out)) {
            g.writeStartObject();
            for (Message m : found) {
                g.writeFieldName(m.key().value());
                Json.writeMessage(g, m, -1);
            }
            g.writeEndObject();
        }
        return ApiResponse.rawJson(200, out.toByteArray());
    }

    private ApiResponse page(ApiRequest r) throws IOException {
        String name = r.pathParam("stream");
        MessageStream stream = streams.get(name);
        if (stream == null) {
            throw ApiException.notFound("no stream named '" + name + "'; streams: " + String.join(", ", streams.keySet().stream().sorted().toList()));
        }
        int limit = parseLimit(r.query("limit").orElse(null));
        long from = parseFrom(stream, r.query("from").orElse(null));
        from = Math.max(from, stream.startOffset());
        List<StreamEntry> entries = stream.read(from, limit);
        long next = entries.isEmpty() ? from : entries.getLast().offset() + 1;
        int guess = 64;
        for (StreamEntry e : entries) {
            guess += 160 + e.message().body().length();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(guess);
        try (JsonGenerator g = Json.generator(out)) {
            g.writeStartObject();
            g.writeStringField("stream", stream.name());
            g.writeArrayFieldStart("messages");
            for (StreamEntry e : entries) {
                Json.writeMessage(g, e.message(), e.offset());
            }
            g.writeEndArray();
            g.writeNumberField("next", next);
            g.writeNumberField("end", stream.endOffset());
            g.writeEndObject();
        }
        return ApiResponse.rawJson(200, out.toByteArray());
    }

    static int parseLimit(String text) {
        if (text == null) {
            return DEFAULT_LIMIT;
        }
        long limit;
        try {
            limit = Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("query parameter 'limit' must be a whole number from 1 to " + MAX_LIMIT + ", got '" + abbreviate(text) + "'");
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            throw ApiException.badRequest("query parameter 'limit' must be from 1 to " + MAX_LIMIT + ", got " + limit);
        }
        return (int) limit;
    }

    /** An offset ({@code 42}) or an ISO-8601 instant ({@code 2026-11-23T10:00:00Z}); 0 when absent. */
    static long parseFrom(MessageStream stream, String text) {
        if (text == null || text.isEmpty()) {
            return 0;
        }
        String t = text.trim();
        if (!t.isEmpty() && t.chars().allMatch(c -> c >= '0' && c <= '9')) {
            try {
                return Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("query parameter 'from' is too large an offset: '" + abbreviate(text) + "'");
            }
        }
        try {
            return stream.offsetAt(Instant.parse(t).toEpochMilli());
        } catch (DateTimeParseException | ArithmeticException e) {
            throw ApiException.badRequest("query parameter 'from' must be an offset (0 or more, as in 'from=42') or an ISO-8601 instant"
                    + " (as in 'from=2026-11-23T10:00:00Z'), got '" + abbreviate(text) + "'");
        }
    }

    private ApiResponse command(ApiRequest r) throws Exception {
        Command c = parseCommand(r.body());
        Message recorded;
        try {
            recorded = commands.send(c.key, c.body).get(commandTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) {
                throw ApiException.badRequest(iae.getMessage());
            }
            throw e;
        } catch (TimeoutException e) {
            throw new ApiException(504, "gateway timeout", "the command for '" + c.key + "' was not confirmed within "
                    + commandTimeout.toMillis() + " ms; it may still be delivered");
        }
        return ApiResponse.rawJson(202, Json.messageToJson(recorded, -1));
    }

    private record Command(RoutingKey key, String body) {
    }

    /** Reads {@code {"key": ..., "body": {...}}} without building a tree, keeping the body's text as sent (compacted). */
    static Command parseCommand(byte[] bytes) {
        if (bytes.length == 0) {
            throw ApiException.badRequest("the request has no body; " + COMMAND_SHAPE);
        }
        String keyText = null;
        String body = null;
        try (JsonParser p = Json.MAPPER.createParser(bytes)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw ApiException.badRequest("the request body must be a JSON object; " + COMMAND_SHAPE);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "key" -> {
                        if (value != JsonToken.VALUE_STRING) {
                            throw ApiException.badRequest("'key' must be a routing key as a string; " + COMMAND_SHAPE);
                        }
                        keyText = p.getText();
                    }
                    case "body" -> {
                        if (value != JsonToken.START_OBJECT) {
                            throw ApiException.badRequest("'body' must be a JSON object (wrap a plain value as {\"value\": ...}); " + COMMAND_SHAPE);
                        }
                        StringWriter w = new StringWriter();
                        try (JsonGenerator g = Json.MAPPER.createGenerator(w)) {
                            g.copyCurrentStructureExact(p);
                        }
                        body = w.toString();
                    }
                    default -> throw ApiException.badRequest("unknown field '" + field + "'; " + COMMAND_SHAPE);
                }
            }
            if (p.nextToken() != null) {
                throw ApiException.badRequest("the request body has more after the JSON object; " + COMMAND_SHAPE);
            }
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ApiException.badRequest("the request body is not valid JSON" + where + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest("the request body cannot be read: " + e.getMessage());
        }
        if (keyText == null) {
            throw ApiException.badRequest("'key' is missing; " + COMMAND_SHAPE);
        }
        if (body == null) {
            throw ApiException.badRequest("'body' is missing; " + COMMAND_SHAPE);
        }
        RoutingKey key;
        try {
            key = RoutingKey.of(keyText);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        return new Command(key, body);
    }

    private static byte[] writeJson(Object value) {
        try {
            return Json.MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getName() + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** Collects the ports the spine's routes read. */
    public static final class Builder {
        private final Map<String, MessageStream> streams = new LinkedHashMap<>();
        private StatusStore status;
        private DeviceDirectory devices;
        private DeviceFacts facts = new DeviceFacts();
        private CommandSender commands;
        private EventHub hub;
        private Clock clock = Clock.systemUTC();
        private Duration commandTimeout = Duration.ofSeconds(10);

        private Builder() {
        }

        /** A stream clients may page through as {@code /api/streams/<name>}; call once per stream. */
        public Builder stream(MessageStream stream) {
            if (streams.putIfAbsent(stream.name(), stream) != null) {
                throw new IllegalArgumentException("a stream named '" + stream.name() + "' is already added");
            }
            return this;
        }

        public Builder status(StatusStore status) {
            this.status = status;
            return this;
        }

        /** What features know of devices, merged into their records; empty unless given. */
        public Builder facts(DeviceFacts facts) {
            this.facts = Objects.requireNonNull(facts, "facts");
            return this;
        }

        public Builder devices(DeviceDirectory devices) {
            this.devices = devices;
            return this;
        }

        public Builder commands(CommandSender commands) {
            this.commands = commands;
            return this;
        }

        public Builder hub(EventHub hub) {
            this.hub = hub;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** How long {@code POST /api/commands} waits for the command to be recorded and published (default 10 s). */
        public Builder commandTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the command timeout must be positive");
            }
            this.commandTimeout = timeout;
            return this;
        }

        public SpineRoutes build() {
            return new SpineRoutes(this);
        }
    }
}
