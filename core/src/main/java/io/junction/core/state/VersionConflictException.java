package io.junction.core.state;

/**
 * A compare-and-set write found another version than it expected: someone else changed the record first. Read it
 * again and retry, or tell the caller (HTTP 409).
 */
public final class VersionConflictException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String collection;
    private final String key;
    private final long expected;
    private final long actual;

    public VersionConflictException(String collection, String key, long expected, long actual) {
        super(collection + "/" + key + " is at version " + actual + (actual == 0 ? " (absent)" : "") + ", not "
                + (expected == StateStore.ABSENT ? "absent" : "version " + expected) + " as the write expected");
        this.collection = collection;
        this.key = key;
        this.expected = expected;
        this.actual = actual;
    }

    public String collection() {
        return collection;
    }

    public String key() {
        return key;
    }

    public long expected() {
        return expected;
    }

    /** The version found; 0 when the record is absent. */
    public long actual() {
        return actual;
    }
}
