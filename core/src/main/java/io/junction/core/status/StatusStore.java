package io.junction.core.status;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.StreamEntry;

import java.util.List;
import java.util.Optional;

/**
 * The status port: the last message of every routing key, kept across restarts. The embedded adapter keeps it in
 * memory with snapshots in the data directory; a scale-out adapter keeps it in Redis. An adapter is kept current by
 * an at-least-once {@link io.junction.core.stream.StreamFollower} on the raw stream that starts at
 * {@link #nextOffset()}, so it must ignore entries it has already recorded. {@code StatusStoreContract} (in core's
 * test-jar) is what every adapter passes.
 */
public interface StatusStore extends AutoCloseable {

    /** Records an entry of the raw stream; an entry whose offset was already seen is ignored. */
    void update(StreamEntry entry);

    Optional<Message> get(RoutingKey key);

    /** The last message of every key the pattern matches, ordered by key. */
    List<Message> find(RoutingPattern pattern);

    /** The raw-stream offset after the last entry recorded: where catching up after a restart starts. */
    long nextOffset();

    @Override
    void close();
}
