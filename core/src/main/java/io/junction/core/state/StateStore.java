package io.junction.core.state;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The state port: keyed, versioned JSON records in named collections, with compare-and-set writes, atomic batches
 * and change events. It holds what Junction is configured with at run time and must survive a restart: users and
 * tokens, the device model, drivers defined through the API, scripts, OTA packages and rollouts, workflows,
 * followers' committed offsets. The embedded adapter is a SQLite file in the data directory; the scale-out adapter
 * is PostgreSQL.
 *
 * <p>A write returns once it is durable. Collections are short lower-case words ({@code users}, {@code ota.packages});
 * keys are any non-empty text of at most {@value #MAX_KEY_LENGTH} characters; documents are JSON text.
 */
public interface StateStore extends AutoCloseable {

    /** The expected version of a record that must not exist yet. */
    long ABSENT = 0;
    /** The expected version of a write that does not care what is there. */
    long ANY = -1;
    int MAX_KEY_LENGTH = 1024;
    Pattern COLLECTION = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

    Optional<StateRecord> get(String collection, String key);

    /** Every record of a collection, ordered by key. */
    List<StateRecord> list(String collection);

    /**
     * Writes {@code json} under the key if the record is at {@code expectedVersion} ({@link #ABSENT}, a version, or
     * {@link #ANY}); returns the record as written. Throws {@link VersionConflictException} when it is not.
     */
    StateRecord put(String collection, String key, String json, long expectedVersion);

    /** Writes {@code json} under the key whatever is there. */
    default StateRecord put(String collection, String key, String json) {
        return put(collection, key, json, ANY);
    }

    /**
     * Deletes the record if it is at {@code expectedVersion} (or {@link #ANY}); returns whether there was one.
     * Throws {@link VersionConflictException} when a version was expected and another was found.
     */
    boolean delete(String collection, String key, long expectedVersion);

    default boolean delete(String collection, String key) {
        return delete(collection, key, ANY);
    }

    /**
     * Applies every write or none: when one expectation fails, throws {@link VersionConflictException} and changes
     * nothing. Returns the records written (deletes give none), in order.
     */
    List<StateRecord> write(List<StateWrite> writes);

    /**
     * Calls {@code listener} after every committed change to {@code collection}, on the writer's thread: it must
     * return quickly. Closing the returned handle stops the calls.
     */
    Watch watch(String collection, Consumer<StateChange> listener);

    @Override
    void close();

    /** A registered change listener. */
    interface Watch extends AutoCloseable {
        @Override
        void close();
    }

    /** Throws {@link IllegalArgumentException} naming what is wrong with a collection name or key. */
    static void check(String collection, String key) {
        if (collection == null || !COLLECTION.matcher(collection).matches()) {
            throw new IllegalArgumentException("state collection '" + collection
                    + "' must be a lower-case word of at most 64 characters (letters, digits, '_', '.', '-')");
        }
        if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("state key in " + collection + " must be 1 to " + MAX_KEY_LENGTH
                    + " characters, got " + (key == null ? "none" : key.length()));
        }
    }
}
