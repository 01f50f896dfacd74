package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.junction.devices.driver.ParamType;

import java.util.Optional;

/** The types a job parameter may have, named as definitions write them. */
public enum JobParamType {
    DURATION("Duration"), INT32("Int32"), FLOAT64("Float64"), BOOL("Bool"), STRING("String");

    private final String id;

    JobParamType(String id) {
        this.id = id;
    }

    /** The name in a definition: {@code Duration}, {@code Int32}, ... */
    public String id() {
        return id;
    }

    static Optional<JobParamType> parse(String text) {
        for (JobParamType t : values()) {
            if (t.id.equals(text)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code value} is of this type (a Duration is a string such as {@code "5m"}). */
    boolean accepts(JsonNode value) {
        return switch (this) {
            case DURATION -> value.isTextual() && Durations.parse(value.asText()).isPresent();
            case INT32 -> ParamType.INT32.accepts(value);
            case FLOAT64 -> ParamType.FLOAT64.accepts(value);
            case BOOL -> ParamType.BOOL.accepts(value);
            case STRING -> ParamType.STRING.accepts(value);
        };
    }

    /** What a value of this type looks like, for error messages. */
    String expected() {
        return switch (this) {
            case DURATION -> Durations.EXPECTED;
            case INT32 -> "a whole number that fits in 32 bits";
            case FLOAT64 -> "a number";
            case BOOL -> "true or false";
            case STRING -> "a string";
        };
    }

    /** A value of this type, to check that a function parameter a placeholder fills accepts it. */
    JsonNode sample() {
        return switch (this) {
            case DURATION -> TextNode.valueOf("1s");
            case INT32 -> IntNode.valueOf(1);
            case FLOAT64 -> DoubleNode.valueOf(1.5);
            case BOOL -> BooleanNode.TRUE;
            case STRING -> TextNode.valueOf("text");
        };
    }
}
