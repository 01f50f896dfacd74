package io.junction.core.stream;

/**
 * Where an at-least-once {@link StreamFollower} has got to: the offset it starts from, and where it records progress.
 * A follower whose handler keeps its own durable position (a snapshot that stores the offset it covers, a database
 * that stores it in the same transaction as the data) uses {@link #startAt}; others keep it in the state port
 * ({@code io.junction.core.state.StateOffsets}).
 */
public interface CommittedOffset {

    /** The first offset not yet handled: where following starts. */
    long load();

    /**
     * Records that every offset below {@code next} was handled. Called after handled batches (at most every commit
     * interval) and when the follower closes. An exception is logged and the commit retried with the next batch.
     */
    void commit(long next) throws Exception;

    /** Starts at {@code offset} and records nothing: the handler keeps its own durable position. */
    static CommittedOffset startAt(long offset) {
        return new CommittedOffset() {
            @Override
            public long load() {
                return offset;
            }

            @Override
            public void commit(long next) {
            }
        };
    }
}
