package io.junction.telemetry;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.SeriesKey;

import java.io.IOException;
import java.util.Set;

/**
 * Turns a message body (JSON, or CBOR through the same streaming parser) into fields: nested objects are flattened
 * with dots ({@code {"env": {"temp": 21.5}}} → {@code env.temp}), array items get their index ({@code v.0}); every
 * number becomes a float (JSON has one number type, and devices encode 21.0 as 21 as often as not), booleans stay
 * booleans, strings become string fields or tags as configured, nulls and byte strings are skipped.
 */
final class Flattener {

    /** Receives what the body holds. */
    interface Sink {
        void field(String name, FieldValue value);

        void tag(String name, String value);
    }

    private final TelemetrySettings.Strings strings;
    private final Set<String> tagNames;
    private final int maxFields;

    Flattener(TelemetrySettings.Strings strings, Set<String> tagNames, int maxFields) {
        this.strings = strings;
        this.tagNames = tagNames;
        this.maxFields = maxFields;
    }

    /**
     * Reads one value from {@code p} (positioned before it) and reports its fields; a scalar at the top is the field
     * {@code value}. Returns how many values were skipped (over the field limit, names too long, byte strings).
     */
    int flatten(JsonParser p, Sink sink) throws IOException {
        JsonToken t = p.nextToken();
        if (t == null) {
            return 0;
        }
        int[] state = {0, 0};   // fields reported, values skipped
        StringBuilder name = new StringBuilder(64);
        if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
            walk(p, t, name, sink, state);
        } else {
            name.append("value");
            scalar(p, t, name, sink, state);
        }
        return state[1];
    }

    private void walk(JsonParser p, JsonToken container, StringBuilder name, Sink sink, int[] state) throws IOException {
        int base = name.length();
        int index = 0;
        while (true) {
            JsonToken t = p.nextToken();
            if (t == null || t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                return;
            }
            name.setLength(base);
            if (base > 0) {
                name.append('.');
            }
            if (container == JsonToken.START_OBJECT) {
                // t is FIELD_NAME; CBOR maps with integer keys report them as names too.
                name.append(p.currentName());
                t = p.nextToken();
            } else {
                name.append(index++);
            }
            if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                walk(p, t, name, sink, state);
            } else {
                scalar(p, t, name, sink, state);
            }
        }
    }

    private void scalar(JsonParser p, JsonToken t, StringBuilder name, Sink sink, int[] state) throws IOException {
        if (t == JsonToken.VALUE_NULL) {
            return;
        }
        if (name.isEmpty() || name.length() > SeriesKey.MAX_FIELD_LENGTH || t == JsonToken.VALUE_EMBEDDED_OBJECT) {
            state[1]++;
            return;
        }
        String field = name.toString();
        if (t == JsonToken.VALUE_STRING) {
            String text = p.getText();
            if (tagNames.contains(field) || strings == TelemetrySettings.Strings.TAG) {
                sink.tag(field, text);
                return;
            }
            if (strings == TelemetrySettings.Strings.DROP) {
                return;
            }
        }
        if (state[0] >= maxFields) {
            state[1]++;
            return;
        }
        FieldValue v = switch (t) {
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> FieldValue.of(p.getDoubleValue());
            case VALUE_TRUE -> FieldValue.of(true);
            case VALUE_FALSE -> FieldValue.of(false);
            default -> FieldValue.of(p.getText());
        };
        if (v instanceof FieldValue.F64 f && !Double.isFinite(f.value())) {
            state[1]++;
            return;
        }
        state[0]++;
        sink.field(field, v);
    }
}
