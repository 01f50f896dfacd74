package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Locale;
import java.util.Optional;

/** The types a function parameter may declare, named as in the metadata; a parameter may accept several (a union). */
public enum ParamType {
    STRING("String"), INT32("Int32"), INT64("Int64"), FLOAT64("Float64"), BOOL("Bool"), OBJECT("Object"),
    ARRAY("Array"), JSON("JSON"), NULL("Null");

    private final String id;

    ParamType(String id) {
        this.id = id;
    }

    /** The name in metadata: {@code String}, {@code Int32}, ... */
    public String id() {
        return id;
    }

    public static Optional<ParamType> parse(String text) {
        for (ParamType t : values()) {
            if (t.id.equalsIgnoreCase(text.trim()) || t.name().equals(text.trim().toUpperCase(Locale.ROOT))) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code value} is of this type (an Int32 is a whole number that fits in 32 bits, and so on). */
    public boolean accepts(JsonNode value) {
        return switch (this) {
            case STRING -> value.isTextual();
            case INT32 -> whole(value) && value.asDouble() >= Integer.MIN_VALUE && value.asDouble() <= Integer.MAX_VALUE;
            case INT64 -> whole(value) && (value.isIntegralNumber() ? value.canConvertToLong()
                    : Math.abs(value.asDouble()) < 9.2e18);
            case FLOAT64 -> value.isNumber();
            case BOOL -> value.isBoolean();
            case OBJECT -> value.isObject();
            case ARRAY -> value.isArray();
            case JSON -> !value.isMissingNode();
            case NULL -> value.isNull();
        };
    }

    private static boolean whole(JsonNode v) {
        return v.isIntegralNumber() || (v.isFloatingPointNumber() && v.asDouble() == Math.rint(v.asDouble())
                && !Double.isInfinite(v.asDouble()));
    }
}
