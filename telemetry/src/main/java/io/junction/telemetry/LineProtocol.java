package io.junction.telemetry;

import io.junction.core.RoutingKey;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.SeriesKey;
import io.junction.core.telemetry.Tags;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * InfluxDB line protocol, as Telegraf and the InfluxDB client libraries send it:
 * {@code measurement[,tag=value...] field=value[,field=value...] [timestamp]}, one point per line. The measurement
 * becomes the routing key (characters a key cannot hold become {@code _}), tags stay tags, fields keep their types:
 * {@code 1.5} float, {@code 3i} integer, {@code 3u} unsigned integer, {@code t/true/...} boolean, {@code "..."}
 * string. A bad line is reported with its number and reason; the other lines still count.
 */
final class LineProtocol {

    /** The points of one good line. */
    record Line(int number, List<Point> points) {
    }

    /** Why line {@code line} (1-based) was not stored. */
    record LineError(int line, String error) {
    }

    record Result(List<Line> lines, List<LineError> errors) {
    }

    /** Nanoseconds per unit of the {@code precision} parameter: ns, us, ms, s (and InfluxDB 1.x's n, u, m, h). */
    static Optional<Long> precision(String p) {
        return switch (p.toLowerCase(Locale.ROOT)) {
            case "ns", "n" -> Optional.of(1L);
            case "us", "u", "µ" -> Optional.of(1_000L);
            case "ms" -> Optional.of(1_000_000L);
            case "s" -> Optional.of(1_000_000_000L);
            case "m" -> Optional.of(60_000_000_000L);
            case "h" -> Optional.of(3_600_000_000_000L);
            default -> Optional.empty();
        };
    }

    private LineProtocol() {
    }

    /**
     * Parses a whole body.
     *
     * @param unit nanoseconds per timestamp unit
     * @param now  the time (nanoseconds) of lines without a timestamp
     */
    static Result parse(String body, long unit, long now) {
        List<Line> lines = new ArrayList<>();
        List<LineError> errors = new ArrayList<>();
        int number = 0;
        int start = 0;
        while (start <= body.length()) {
            int end = body.indexOf('\n', start);
            if (end < 0) {
                end = body.length();
            }
            number++;
            String line = body.substring(start, end);
            start = end + 1;
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.charAt(0) == '#') {
                if (end == body.length()) {
                    break;
                }
                continue;
            }
            try {
                lines.add(new Line(number, new Parser(trimmed, unit, now).parse()));
            } catch (BadLine | IllegalArgumentException e) {
                errors.add(new LineError(number, e.getMessage()));
            }
            if (end == body.length()) {
                break;
            }
        }
        return new Result(lines, errors);
    }

    /** A line that cannot be parsed; the message says why. */
    static final class BadLine extends Exception {
        BadLine(String message) {
            super(message, null, false, false);
        }
    }

    private static final class Parser {
        private final String s;
        private final long unit;
        private final long now;
        private int i;

        Parser(String s, long unit, long now) {
            this.s = s;
            this.unit = unit;
            this.now = now;
        }

        List<Point> parse() throws BadLine {
            String measurement = token(",  ".toCharArray(), false, "measurement");
            if (measurement.isEmpty()) {
                throw new BadLine("the line starts without a measurement name");
            }
            RoutingKey key = routingKey(measurement);
            Map<String, String> tags = new LinkedHashMap<>();
            while (i < s.length() && s.charAt(i) == ',') {
                i++;
                String name = token(new char[]{'=', ',', ' '}, true, "tag key");
                if (i >= s.length() || s.charAt(i) != '=') {
                    throw new BadLine("tag '" + name + "' has no value: write tag=value");
                }
                i++;
                String value = token(new char[]{',', ' ', '='}, true, "tag value");
                if (name.isEmpty() || value.isEmpty()) {
                    throw new BadLine("a tag needs a name and a value, got '" + name + "=" + value + "'");
                }
                tags.put(name, value);
            }
            if (i >= s.length() || s.charAt(i) != ' ') {
                throw new BadLine("no fields: after the measurement and tags comes a space and field=value");
            }
            skipSpaces();
            Map<String, FieldValue> fields = new LinkedHashMap<>();
            while (true) {
                String name = token(new char[]{'=', ',', ' '}, true, "field key");
                if (name.isEmpty()) {
                    throw new BadLine("a field needs a name: write field=value");
                }
                if (i >= s.length() || s.charAt(i) != '=') {
                    throw new BadLine("field '" + name + "' has no value: write " + name + "=value");
                }
                i++;
                if (name.length() > SeriesKey.MAX_FIELD_LENGTH) {
                    throw new BadLine("field name longer than " + SeriesKey.MAX_FIELD_LENGTH + " characters");
                }
                fields.put(name, value(name));
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                break;
            }
            long ts = now;
            if (i < s.length()) {
                if (s.charAt(i) != ' ') {
                    throw new BadLine("unexpected '" + s.charAt(i) + "' after the fields: separate fields with ',' and the timestamp with a space");
                }
                skipSpaces();
                if (i < s.length()) {
                    ts = timestamp(s.substring(i).strip());
                }
            }
            Tags t = tags.isEmpty() ? Tags.EMPTY : Tags.of(tags);
            List<Point> points = new ArrayList<>(fields.size());
            for (Map.Entry<String, FieldValue> f : fields.entrySet()) {
                points.add(new Point(new SeriesKey(key, t, f.getKey()), ts, f.getValue()));
            }
            return points;
        }

        private void skipSpaces() {
            while (i < s.length() && s.charAt(i) == ' ') {
                i++;
            }
        }

        /** Reads up to an unescaped stop character; a backslash escapes a stop character (or a backslash). */
        private String token(char[] stops, boolean escapesEquals, String what) throws BadLine {
            StringBuilder out = new StringBuilder();
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == '\\' && i + 1 < s.length()) {
                    char n = s.charAt(i + 1);
                    if (n == ',' || n == ' ' || n == '\\' || (escapesEquals && n == '=')) {
                        out.append(n);
                        i += 2;
                        continue;
                    }
                }
                for (char stop : stops) {
                    if (c == stop) {
                        return out.toString();
                    }
                }
                if (c == '\t' || c == '\r') {
                    throw new BadLine("a " + what + " holds a tab or carriage return: escape spaces with a backslash instead");
                }
                out.append(c);
                i++;
            }
            return out.toString();
        }

        private FieldValue value(String name) throws BadLine {
            if (i >= s.length()) {
                throw new BadLine("field '" + name + "' has an empty value");
            }
            if (s.charAt(i) == '"') {
                i++;
                StringBuilder out = new StringBuilder();
                while (i < s.length()) {
                    char c = s.charAt(i);
                    if (c == '\\' && i + 1 < s.length() && (s.charAt(i + 1) == '"' || s.charAt(i + 1) == '\\')) {
                        out.append(s.charAt(i + 1));
                        i += 2;
                        continue;
                    }
                    if (c == '"') {
                        i++;
                        return FieldValue.of(out.toString());
                    }
                    out.append(c);
                    i++;
                }
                throw new BadLine("the string value of field '" + name + "' has no closing double quote");
            }
            int start = i;
            while (i < s.length() && s.charAt(i) != ',' && s.charAt(i) != ' ') {
                i++;
            }
            String v = s.substring(start, i);
            switch (v) {
                case "t", "T", "true", "True", "TRUE":
                    return FieldValue.of(true);
                case "f", "F", "false", "False", "FALSE":
                    return FieldValue.of(false);
                default:
                    break;
            }
            char last = v.charAt(v.length() - 1);
            if (last == 'i' || last == 'u') {
                String digits = v.substring(0, v.length() - 1);
                if (!isInteger(digits, last == 'i')) {
                    throw badValue(name, v);
                }
                try {
                    return FieldValue.of(Long.parseLong(digits));
                } catch (NumberFormatException e) {
                    throw new BadLine("the integer " + v + " of field '" + name + "' does not fit in 64 bits");
                }
            }
            if (!isFloat(v)) {
                throw badValue(name, v);
            }
            double d = Double.parseDouble(v);
            if (!Double.isFinite(d)) {
                throw new BadLine("the value " + v + " of field '" + name + "' is out of range");
            }
            return FieldValue.of(d);
        }

        private static BadLine badValue(String name, String v) {
            return new BadLine("invalid value '" + v + "' for field '" + name + "': expected a number (1.5), an integer"
                    + " (3i), true or false, or a string in double quotes");
        }

        private long timestamp(String text) throws BadLine {
            if (!isInteger(text, true)) {
                throw new BadLine("invalid timestamp '" + text + "': expected a whole number in the request's precision");
            }
            long t;
            try {
                t = Math.multiplyExact(Long.parseLong(text), unit);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new BadLine("the timestamp " + text + " is out of range");
            }
            if (t < 0) {
                throw new BadLine("the timestamp " + text + " is before 1970, which is not supported");
            }
            return t;
        }

        private static boolean isInteger(String v, boolean signed) {
            int start = signed && !v.isEmpty() && (v.charAt(0) == '-' || v.charAt(0) == '+') ? 1 : 0;
            if (v.length() == start) {
                return false;
            }
            for (int k = start; k < v.length(); k++) {
                if (!Character.isDigit(v.charAt(k)) || v.charAt(k) > '9') {
                    return false;
                }
            }
            return true;
        }

        /** [-+]digits[.digits][e[-+]digits], or .digits: no NaN, Infinity, hex or type suffixes. */
        private static boolean isFloat(String v) {
            int k = 0;
            int n = v.length();
            if (k < n && (v.charAt(k) == '-' || v.charAt(k) == '+')) {
                k++;
            }
            int digits = 0;
            while (k < n && v.charAt(k) >= '0' && v.charAt(k) <= '9') {
                k++;
                digits++;
            }
            if (k < n && v.charAt(k) == '.') {
                k++;
                while (k < n && v.charAt(k) >= '0' && v.charAt(k) <= '9') {
                    k++;
                    digits++;
                }
            }
            if (digits == 0) {
                return false;
            }
            if (k < n && (v.charAt(k) == 'e' || v.charAt(k) == 'E')) {
                k++;
                if (k < n && (v.charAt(k) == '-' || v.charAt(k) == '+')) {
                    k++;
                }
                int exp = 0;
                while (k < n && v.charAt(k) >= '0' && v.charAt(k) <= '9') {
                    k++;
                    exp++;
                }
                if (exp == 0) {
                    return false;
                }
            }
            return k == n;
        }

        /** The measurement as a routing key: dots separate words; what a key cannot hold becomes '_'. */
        private static RoutingKey routingKey(String measurement) throws BadLine {
            if (measurement.length() > RoutingKey.MAX_LENGTH) {
                throw new BadLine("the measurement name is longer than " + RoutingKey.MAX_LENGTH + " characters");
            }
            StringBuilder sb = new StringBuilder(measurement.length());
            char previous = '.';
            for (int k = 0; k < measurement.length(); k++) {
                char c = measurement.charAt(k);
                if (c == '*' || c == '#' || Character.isWhitespace(c) || Character.isISOControl(c)) {
                    c = '_';
                }
                if (c == '.' && previous == '.') {
                    sb.append('_');
                }
                sb.append(c);
                previous = c;
            }
            if (previous == '.') {
                sb.append('_');
            }
            return RoutingKey.of(sb.toString());
        }
    }
}
