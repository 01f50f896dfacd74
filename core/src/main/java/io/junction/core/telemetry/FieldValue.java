package io.junction.core.telemetry;

import java.util.Objects;

/** One value of a point: a float, an integer, a boolean or a string. */
public sealed interface FieldValue permits FieldValue.F64, FieldValue.I64, FieldValue.Bool, FieldValue.Text {

    FieldType type();

    /** The value as a number for aggregation: booleans are 0 and 1; a string has none. */
    double asDouble();

    /** The value as a plain Java object for JSON: Double, Long, Boolean or String. */
    Object toJava();

    static FieldValue of(double v) {
        return new F64(v);
    }

    static FieldValue of(long v) {
        return new I64(v);
    }

    static FieldValue of(boolean v) {
        return v ? Bool.TRUE : Bool.FALSE;
    }

    static FieldValue of(String v) {
        return new Text(v);
    }

    /** A value of {@code type} from an aggregate's number (booleans: non-zero is true). */
    static FieldValue fromDouble(FieldType type, double v) {
        return switch (type) {
            case FLOAT, STRING -> new F64(v);
            case INTEGER -> new I64((long) v);
            case BOOLEAN -> of(v != 0);
        };
    }

    record F64(double value) implements FieldValue {
        @Override
        public FieldType type() {
            return FieldType.FLOAT;
        }

        @Override
        public double asDouble() {
            return value;
        }

        @Override
        public Object toJava() {
            return value;
        }
    }

    record I64(long value) implements FieldValue {
        @Override
        public FieldType type() {
            return FieldType.INTEGER;
        }

        @Override
        public double asDouble() {
            return value;
        }

        @Override
        public Object toJava() {
            return value;
        }
    }

    record Bool(boolean value) implements FieldValue {
        static final Bool TRUE = new Bool(true);
        static final Bool FALSE = new Bool(false);

        @Override
        public FieldType type() {
            return FieldType.BOOLEAN;
        }

        @Override
        public double asDouble() {
            return value ? 1 : 0;
        }

        @Override
        public Object toJava() {
            return value;
        }
    }

    record Text(String value) implements FieldValue {
        public Text {
            Objects.requireNonNull(value, "value");
        }

        @Override
        public FieldType type() {
            return FieldType.STRING;
        }

        @Override
        public double asDouble() {
            return Double.NaN;
        }

        @Override
        public Object toJava() {
            return value;
        }
    }
}
