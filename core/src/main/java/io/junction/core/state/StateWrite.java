package io.junction.core.state;

/** One write of an atomic {@link StateStore#write} batch. */
public sealed interface StateWrite {

    String collection();

    String key();

    /** The version the record must have now: {@link StateStore#ABSENT}, a version, or {@link StateStore#ANY}. */
    long expectedVersion();

    /** Sets the record's JSON document. */
    record Put(String collection, String key, String json, long expectedVersion) implements StateWrite {
    }

    /** Removes the record (nothing happens when it is absent and any version is expected). */
    record Delete(String collection, String key, long expectedVersion) implements StateWrite {
    }
}
