package io.junction.core.telemetry;

import java.util.Optional;

/**
 * The rule for values whose type does not match their series, which every adapter applies the same way instead of
 * failing the write:
 * <ol>
 *   <li>A series' type is fixed by its first value.</li>
 *   <li>An integer into a float series is stored as a float; a float without a fraction into an integer series is
 *       stored as an integer (both are "converted").</li>
 *   <li>Any other mismatch (a string into a number series, a number into a boolean series, 2.5 into an integer
 *       series, ...) is stored under a sibling field named {@code <field>:<type>}, such as {@code temp:string},
 *       whose type is the value's own (the point is "diverted"). Nothing is dropped, and each series keeps one
 *       type.</li>
 * </ol>
 */
public final class TypeRule {

    private TypeRule() {
    }

    /** The value converted to {@code seriesType} when the rule allows it; empty when the point must be diverted. */
    public static Optional<FieldValue> convert(FieldType seriesType, FieldValue value) {
        if (value.type() == seriesType) {
            return Optional.of(value);
        }
        if (seriesType == FieldType.FLOAT && value instanceof FieldValue.I64 i) {
            return Optional.of(FieldValue.of((double) i.value()));
        }
        if (seriesType == FieldType.INTEGER && value instanceof FieldValue.F64 f) {
            double d = f.value();
            if (d == Math.rint(d) && d >= -0x1p63 && d < 0x1p63) {
                return Optional.of(FieldValue.of((long) d));
            }
        }
        return Optional.empty();
    }

    /** The sibling series a diverted value goes to. */
    public static SeriesKey divertedKey(SeriesKey series, FieldType valueType) {
        String field = series.field() + ":" + valueType.label();
        if (field.length() > SeriesKey.MAX_FIELD_LENGTH) {
            field = field.substring(field.length() - SeriesKey.MAX_FIELD_LENGTH);
        }
        return series.withField(field);
    }
}
