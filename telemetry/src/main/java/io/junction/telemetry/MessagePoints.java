package io.junction.telemetry;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.SeriesKey;
import io.junction.core.telemetry.Tags;
import io.junction.core.telemetry.TimeSpans;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns one stream message into points: the body flattened into fields, each point carrying the routing key, the
 * device as the {@code device} tag and the message time. Devices that follow Pyrinas' convention publish telemetry
 * on {@code <uid>/tel/p} as JSON or as a CBOR map; CBOR arrives in the body base64-wrapped
 * ({@code {"value": "...", "encoding": "base64"}}) and is decoded here, so no mapping is needed for it.
 *
 * <p>A point's time is the message time in nanoseconds plus the message's stream offset modulo one million: two
 * messages of one key in the same millisecond stay two points (same series and time would replace), and a replay
 * gives each point the same time again.
 */
final class MessagePoints {

    private static final JsonFactory JSON = Json.MAPPER.getFactory();
    private static final CBORFactory CBOR = new CBORFactory();

    /** What one message gave. */
    record Result(List<Point> points, int skipped, boolean undecodable) {
    }

    private final Flattener flattener;

    MessagePoints(Flattener flattener) {
        this.flattener = flattener;
    }

    /** True for {@code <uid>/tel/p}: three levels, the second {@code tel} and the third {@code p}. */
    static boolean isDeviceTelemetry(String topic) {
        int first = topic.indexOf('/');
        if (first <= 0) {
            return false;
        }
        return topic.length() == first + 6 && topic.startsWith("/tel/p", first);
    }

    static long timeOf(Message m, long offset) {
        return m.ts() * TimeSpans.NS_PER_MS + Math.floorMod(offset, TimeSpans.NS_PER_MS);
    }

    Result convert(Message m, long offset) {
        long ts = timeOf(m, offset);
        Map<String, FieldValue> fields = new LinkedHashMap<>();
        Map<String, String> bodyTags = new LinkedHashMap<>();
        Flattener.Sink sink = new Flattener.Sink() {
            @Override
            public void field(String name, FieldValue value) {
                fields.put(name, value);
            }

            @Override
            public void tag(String name, String value) {
                bodyTags.put(name, value);
            }
        };
        int skipped;
        try {
            byte[] cbor = isDeviceTelemetry(m.topic()) ? base64Payload(m.body()) : null;
            if (cbor != null) {
                try (JsonParser p = CBOR.createParser(cbor)) {
                    skipped = flattener.flatten(p, sink);
                }
            } else {
                try (JsonParser p = JSON.createParser(m.body())) {
                    skipped = flattener.flatten(p, sink);
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            return new Result(List.of(), 0, true);
        }
        if (fields.isEmpty()) {
            return new Result(List.of(), skipped, false);
        }
        if (!m.device().isEmpty()) {
            // The device the message came from wins over a body value of the same name.
            bodyTags.put(Tags.DEVICE, m.device());
        }
        Tags tags = bodyTags.isEmpty() ? Tags.EMPTY : Tags.of(bodyTags);
        RoutingKey key = m.key();
        List<Point> points = new ArrayList<>(fields.size());
        for (Map.Entry<String, FieldValue> f : fields.entrySet()) {
            points.add(new Point(new SeriesKey(key, tags, f.getKey()), ts, f.getValue()));
        }
        return new Result(points, skipped, false);
    }

    /**
     * The decoded bytes when the body is the pre-processor's wrapping of a binary payload
     * ({@code {"value": "<base64>", "encoding": "base64"}}); null for any other body.
     */
    static byte[] base64Payload(String body) throws IOException {
        if (body.indexOf("\"base64\"") < 0) {
            return null;
        }
        String value = null;
        String encoding = null;
        int fields = 0;
        try (JsonParser p = JSON.createParser(body)) {
            p.nextToken();
            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                fields++;
                if (name.equals("value")) {
                    value = p.getValueAsString();
                } else if (name.equals("encoding")) {
                    encoding = p.getValueAsString();
                } else {
                    p.skipChildren();
                }
            }
        }
        if (fields != 2 || value == null || !"base64".equals(encoding)) {
            return null;
        }
        return Base64.getDecoder().decode(value);
    }
}
