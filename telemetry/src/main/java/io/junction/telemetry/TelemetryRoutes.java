package io.junction.telemetry;

import com.fasterxml.jackson.core.JsonGenerator;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Fn;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.RetentionRule;
import io.junction.core.telemetry.Sample;
import io.junction.core.telemetry.Series;
import io.junction.core.telemetry.SeriesFilter;
import io.junction.core.telemetry.TelemetryReader;
import io.junction.core.telemetry.TimeSpans;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The telemetry HTTP API: {@code POST /api/telemetry/write} (InfluxDB line protocol, so Telegraf's InfluxDB output
 * and the InfluxDB client libraries can write unchanged), {@code GET /api/telemetry/query}, {@code /last} and
 * {@code /series}, each as JSON or, with {@code Accept: text/csv} (or {@code format=csv}), as CSV.
 */
final class TelemetryRoutes {

    static final String CSV = "text/csv; charset=utf-8";
    /** Line errors listed in a 400 answer; the count of the rest is given. */
    private static final int MAX_LINE_ERRORS = 100;
    private static final int DEFAULT_RAW_LIMIT = 10_000;
    private static final long DEFAULT_RANGE = 3_600 * TimeSpans.NS_PER_S;

    private final PointWriter out;
    private final TelemetryReader reader;
    private final Retention retention;

    TelemetryRoutes(PointWriter out, TelemetryReader reader, Retention retention) {
        this.out = out;
        this.reader = reader;
        this.retention = retention;
    }

    void register(RouteTable routes) {
        routes.add(Method.POST, "/api/telemetry/write", this::write);
        // InfluxDB 2.x client libraries join /api/v2/write to their base URL: with http://host:8080/api/telemetry
        // as that URL they land here (org, bucket and the Authorization token are ignored).
        routes.add(Method.POST, "/api/telemetry/api/v2/write", this::write);
        routes.add(Method.GET, "/api/telemetry/query", this::query);
        routes.add(Method.GET, "/api/telemetry/last", this::last);
        routes.add(Method.GET, "/api/telemetry/series", this::series);
    }

    // ---------------------------------------------------------------- write

    ApiResponse write(ApiRequest req) {
        String p = req.query("precision").orElse("ns");
        long unit = LineProtocol.precision(p).orElseThrow(() -> ApiException.badRequest(
                "precision '" + p + "' is not known: use ns, us, ms or s"));
        String body = text(req);
        long now = out.now();
        LineProtocol.Result parsed = LineProtocol.parse(body, unit, now);
        List<LineProtocol.LineError> errors = new ArrayList<>(parsed.errors());
        List<Point> points = new ArrayList<>();
        long old = 0;
        for (LineProtocol.Line line : parsed.lines()) {
            Point stale = null;
            for (Point pt : line.points()) {
                if (!out.withinRetention(pt, now)) {
                    stale = pt;
                    break;
                }
            }
            if (stale != null) {
                old += line.points().size();
                String keep = retention.ruleFor(stale.series().key())
                        .map(r -> TimeSpans.format(r.raw())).orElse(TimeSpans.format(RetentionRule.FOREVER));
                errors.add(new LineProtocol.LineError(line.number(), "the timestamp is older than the raw retention ("
                        + keep + ") of " + stale.series().key() + ": not stored"));
                continue;
            }
            points.addAll(line.points());
        }
        if (old > 0) {
            out.droppedByRetention(old);
        }
        if (!points.isEmpty()) {
            out.write(points, Optional.empty(), true);
        }
        if (errors.isEmpty()) {
            return ApiResponse.status(204);
        }
        errors.sort((a, b) -> Integer.compare(a.line(), b.line()));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("error", "bad request");
        int total = parsed.lines().size() + parsed.errors().size();
        answer.put("detail", errors.size() + " of " + total + " lines were not stored (see lines); the other lines were stored");
        List<Map<String, Object>> lines = new ArrayList<>();
        for (LineProtocol.LineError e : errors.subList(0, Math.min(MAX_LINE_ERRORS, errors.size()))) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("line", e.line());
            one.put("error", e.error());
            lines.add(one);
        }
        answer.put("lines", lines);
        if (errors.size() > MAX_LINE_ERRORS) {
            answer.put("more", errors.size() - MAX_LINE_ERRORS);
        }
        return ApiResponse.json(400, answer);
    }

    private static String text(ApiRequest req) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(req.body())).toString();
        } catch (CharacterCodingException e) {
            throw ApiException.badRequest("the body is not UTF-8 text: send InfluxDB line protocol");
        }
    }

    // ---------------------------------------------------------------- reads

    private record Epoch(String name, long nanos) {
        long of(long ns) {
            return Math.floorDiv(ns, nanos);
        }
    }

    private static Epoch epoch(ApiRequest req) {
        String e = req.query("epoch").orElse("ms");
        return switch (e) {
            case "ms" -> new Epoch(e, TimeSpans.NS_PER_MS);
            case "ns", "n" -> new Epoch("ns", 1);
            case "us", "u" -> new Epoch("us", 1_000);
            case "s" -> new Epoch(e, TimeSpans.NS_PER_S);
            default -> throw ApiException.badRequest("epoch '" + e + "' is not known: use ms (the default), s, us or ns");
        };
    }

    private static boolean csv(ApiRequest req) {
        Optional<String> format = req.query("format");
        if (format.isPresent()) {
            return switch (format.get()) {
                case "csv" -> true;
                case "json" -> false;
                default -> throw ApiException.badRequest("format '" + format.get() + "' is not known: use json or csv");
            };
        }
        return req.header("Accept").map(a -> a.toLowerCase(Locale.ROOT).contains("text/csv")).orElse(false);
    }

    private static SeriesFilter filter(ApiRequest req, boolean fieldRequired) {
        String key = req.query("key").orElse("#");
        RoutingPattern pattern;
        try {
            pattern = RoutingPattern.of(key);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("key: " + e.getMessage());
        }
        Optional<String> field = req.query("field").filter(f -> !f.isEmpty());
        if (fieldRequired && field.isEmpty()) {
            throw ApiException.badRequest("field is required: give the (flattened) field name, such as field=env.temp"
                    + " (GET /api/telemetry/series lists them)");
        }
        Map<String, String> tags = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> q : req.query().entrySet()) {
            if (q.getKey().startsWith("tag.") && q.getKey().length() > 4 && !q.getValue().isEmpty()) {
                tags.put(q.getKey().substring(4), q.getValue().getFirst());
            }
        }
        req.query("device").ifPresent(d -> tags.put("device", d));
        return new SeriesFilter(pattern, field, tags);
    }

    /** A time: now, now-1h or -1h, epoch milliseconds, or an ISO-8601 instant; in nanoseconds. */
    static long time(String name, String v, long now) {
        try {
            if (v.equals("now")) {
                return now;
            }
            if (v.startsWith("now-") || v.startsWith("-")) {
                return now - TimeSpans.parse(v.substring(v.indexOf('-') + 1));
            }
            if (!v.isEmpty() && v.chars().allMatch(Character::isDigit) && v.length() <= 15) {
                return Long.parseLong(v) * TimeSpans.NS_PER_MS;
            }
            Instant i = Instant.parse(v);
            return Math.addExact(Math.multiplyExact(i.getEpochSecond(), TimeSpans.NS_PER_S), i.getNano());
        } catch (DateTimeParseException | IllegalArgumentException | ArithmeticException e) {
            throw ApiException.badRequest(name + " '" + v + "' is not a time: give epoch milliseconds, an ISO-8601 time"
                    + " such as 2026-01-01T00:00:00Z, now, or a time before now such as -24h");
        }
    }

    ApiResponse query(ApiRequest req) {
        SeriesFilter filter = filter(req, true);
        long now = out.now();
        long to = req.query("to").map(v -> time("to", v, now)).orElse(now);
        long from = req.query("from").map(v -> time("from", v, now)).orElse(to - DEFAULT_RANGE);
        if (from < 0) {
            throw ApiException.badRequest("from is before 1970");
        }
        if (to <= from) {
            throw ApiException.badRequest("the time range is empty: from must be before to");
        }
        String fnName = req.query("fn").orElse("mean");
        Epoch epoch = epoch(req);
        boolean csv = csv(req);
        List<TelemetryReader.SeriesData> data;
        long every = 0;
        try {
            if (fnName.equals("raw")) {
                int limit = req.query("limit").map(l -> integer("limit", l, 1, reader.limits().maxPoints()))
                        .orElse(Math.min(DEFAULT_RAW_LIMIT, reader.limits().maxPoints()));
                data = reader.raw(filter, from, to, limit);
            } else {
                Fn fn = Fn.parse(fnName).orElseThrow(() -> ApiException.badRequest("fn '" + fnName
                        + "' is not known: use mean, min, max, sum, count, first, last or raw"));
                String e = req.query("every").orElseThrow(() -> ApiException.badRequest(
                        "every is required with fn=" + fnName + ": the bucket width, such as every=1m (or fn=raw for the points)"));
                try {
                    every = TimeSpans.parse(e);
                } catch (IllegalArgumentException ex) {
                    throw ApiException.badRequest("every: " + ex.getMessage());
                }
                if (every <= 0) {
                    throw ApiException.badRequest("every must be longer than 0");
                }
                data = reader.aggregate(filter, from, to, every, fn);
            }
        } catch (TelemetryReader.Refused r) {
            throw new ApiException(400, "query refused", r.getMessage());
        }
        if (csv) {
            StringBuilder sb = new StringBuilder("key,tags,field,time,ts,value\n");
            for (TelemetryReader.SeriesData d : data) {
                String prefix = csvCell(d.series().key().key().value()) + "," + csvCell(d.series().key().tags().canonical())
                        + "," + csvCell(d.series().key().field()) + ",";
                for (Sample s : d.samples()) {
                    sb.append(prefix).append(instant(s.ts())).append(',').append(epoch.of(s.ts())).append(',')
                            .append(csvValue(s.value())).append('\n');
                }
            }
            return ApiResponse.text(200, CSV, sb.toString());
        }
        long everyNs = every;
        return json(g -> {
            g.writeStartObject();
            g.writeStringField("key", filter.key().value());
            g.writeStringField("field", filter.field().orElseThrow());
            g.writeStringField("fn", fnName);
            if (everyNs > 0) {
                g.writeStringField("every", TimeSpans.format(everyNs));
            }
            g.writeNumberField("from", epoch.of(from));
            g.writeNumberField("to", epoch.of(to));
            g.writeStringField("epoch", epoch.name());
            g.writeArrayFieldStart("series");
            for (TelemetryReader.SeriesData d : data) {
                g.writeStartObject();
                seriesFields(g, d);
                g.writeArrayFieldStart("points");
                for (Sample s : d.samples()) {
                    g.writeStartArray();
                    g.writeNumber(epoch.of(s.ts()));
                    value(g, s.value());
                    g.writeEndArray();
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    ApiResponse last(ApiRequest req) {
        SeriesFilter filter = filter(req, false);
        Epoch epoch = epoch(req);
        List<TelemetryReader.SeriesData> data;
        try {
            data = reader.last(filter);
        } catch (TelemetryReader.Refused r) {
            throw new ApiException(400, "query refused", r.getMessage());
        }
        if (csv(req)) {
            StringBuilder sb = new StringBuilder("key,tags,field,type,time,ts,value\n");
            for (TelemetryReader.SeriesData d : data) {
                Sample s = d.samples().getFirst();
                sb.append(seriesCsv(d)).append(',').append(instant(s.ts())).append(',').append(epoch.of(s.ts()))
                        .append(',').append(csvValue(s.value())).append('\n');
            }
            return ApiResponse.text(200, CSV, sb.toString());
        }
        return json(g -> {
            g.writeStartObject();
            g.writeStringField("epoch", epoch.name());
            g.writeArrayFieldStart("series");
            for (TelemetryReader.SeriesData d : data) {
                Sample s = d.samples().getFirst();
                g.writeStartObject();
                seriesFields(g, d);
                g.writeNumberField("ts", epoch.of(s.ts()));
                g.writeFieldName("value");
                value(g, s.value());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    ApiResponse series(ApiRequest req) {
        SeriesFilter filter = filter(req, false);
        List<Series> found;
        try {
            found = reader.series(filter);
        } catch (TelemetryReader.Refused r) {
            throw new ApiException(400, "query refused", r.getMessage());
        }
        if (csv(req)) {
            StringBuilder sb = new StringBuilder("key,tags,field,type\n");
            for (Series s : found) {
                sb.append(seriesCsv(new TelemetryReader.SeriesData(s, List.of()))).append('\n');
            }
            return ApiResponse.text(200, CSV, sb.toString());
        }
        return json(g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("series");
            for (Series s : found) {
                g.writeStartObject();
                seriesFields(g, new TelemetryReader.SeriesData(s, List.of()));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    // ---------------------------------------------------------------- rendering

    private interface Writer {
        void write(JsonGenerator g) throws IOException;
    }

    private static ApiResponse json(Writer w) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(4096);
        try (JsonGenerator g = Json.generator(bytes)) {
            w.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return ApiResponse.rawJson(200, bytes.toByteArray());
    }

    private static void seriesFields(JsonGenerator g, TelemetryReader.SeriesData d) throws IOException {
        g.writeStringField("key", d.series().key().key().value());
        g.writeObjectFieldStart("tags");
        for (Map.Entry<String, String> t : d.series().key().tags().asMap().entrySet()) {
            g.writeStringField(t.getKey(), t.getValue());
        }
        g.writeEndObject();
        g.writeStringField("field", d.series().key().field());
        g.writeStringField("type", d.series().type().label());
    }

    private static void value(JsonGenerator g, FieldValue v) throws IOException {
        switch (v) {
            case FieldValue.F64 f -> {
                if (Double.isFinite(f.value())) {
                    g.writeNumber(f.value());
                } else {
                    g.writeNull();
                }
            }
            case FieldValue.I64 i -> g.writeNumber(i.value());
            case FieldValue.Bool b -> g.writeBoolean(b.value());
            case FieldValue.Text t -> g.writeString(t.value());
        }
    }

    private static String seriesCsv(TelemetryReader.SeriesData d) {
        return csvCell(d.series().key().key().value()) + "," + csvCell(d.series().key().tags().canonical()) + ","
                + csvCell(d.series().key().field()) + "," + d.series().type().label();
    }

    private static String csvValue(FieldValue v) {
        return switch (v) {
            case FieldValue.F64 f -> Double.isFinite(f.value()) ? Double.toString(f.value()) : "";
            case FieldValue.I64 i -> Long.toString(i.value());
            case FieldValue.Bool b -> Boolean.toString(b.value());
            case FieldValue.Text t -> csvCell(t.value());
        };
    }

    /** RFC 4180: a cell with a comma, a quote or a line break is quoted, with quotes doubled. */
    static String csvCell(String s) {
        boolean quote = false;
        for (int i = 0; i < s.length() && !quote; i++) {
            char c = s.charAt(i);
            quote = c == ',' || c == '"' || c == '\n' || c == '\r';
        }
        return quote ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private static String instant(long ns) {
        return Instant.ofEpochSecond(Math.floorDiv(ns, TimeSpans.NS_PER_S), Math.floorMod(ns, TimeSpans.NS_PER_S)).toString();
    }

    private static int integer(String name, String v, int min, int max) {
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiException.badRequest(name + " must be a whole number from " + min + " to " + max + ", got '" + v + "'");
    }
}
