package io.junction.core.telemetry;

import java.util.Locale;

/** The type of a series' values. A series has one type, fixed by its first value (see {@link TypeRule}). */
public enum FieldType {
    FLOAT, INTEGER, BOOLEAN, STRING;

    /** The lower-case name used in the API and in diverted field names ({@code temp:string}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True for the types that can be averaged, summed and downsampled. */
    public boolean numeric() {
        return this != STRING;
    }

    /** The stable code stored by adapters. */
    public int code() {
        return ordinal();
    }

    public static FieldType ofCode(int code) {
        FieldType[] all = values();
        if (code < 0 || code >= all.length) {
            throw new IllegalArgumentException("unknown field type code " + code);
        }
        return all[code];
    }
}
