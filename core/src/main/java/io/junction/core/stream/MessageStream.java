package io.junction.core.stream;

import io.junction.core.Message;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The streams port: a durable, ordered, replayable sequence of messages with offsets ({@code raw} and
 * {@code processed}). Offsets start at 0 and grow by one per message. The embedded adapter is an append-only log
 * in the data directory; a scale-out adapter puts the same thing on Kafka.
 */
public interface MessageStream extends AutoCloseable {

    /** {@code raw} or {@code processed}. */
    String name();

    /**
     * Appends one message. The future completes with the message's offset once it is as durable as the stream's
     * fsync policy promises (with the default policy: on disk, surviving a power cut), and only then. Appends are
     * batched (group commit). When the writer is saturated the call blocks: back-pressure on the producer.
     * It completes exceptionally when the stream is closed or the write failed.
     */
    CompletableFuture<Long> append(Message message);

    /** Up to {@code max} entries from {@code fromOffset} on, in order; empty when there is nothing there yet. */
    List<StreamEntry> read(long fromOffset, int max);

    /** The offset of the first message whose time is at or after {@code epochMillis}; {@link #endOffset()} if none. */
    long offsetAt(long epochMillis);

    /** The offset the next appended message will get. */
    long endOffset();

    /** The offset of the oldest message still kept. */
    long startOffset();

    /** Bytes the stream takes in storage. */
    long sizeBytes();

    /**
     * Registers a live listener. It is called for every message once it is durable, in offset order, on the
     * stream's writer thread, so it must return quickly and never block (hand the entry to a bounded queue).
     */
    Tap tap(Consumer<StreamEntry> listener);

    @Override
    void close();

    /** A registered live listener; closing it stops the calls. */
    interface Tap extends AutoCloseable {
        @Override
        void close();
    }
}
