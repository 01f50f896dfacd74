package io.junction.core.stream;

import io.junction.core.Message;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The streams port: a durable, ordered, replayable sequence of messages with offsets ({@code raw} and
 * {@code processed}). Offsets start at 0 and grow by one per message. The embedded adapter is an append-only log
 * in the data directory; a scale-out adapter puts the same thing on Kafka. {@code MessageStreamContract} and
 * {@code StreamFollowerContract} (in core's test-jar) are what every adapter passes.
 */
public interface MessageStream extends AutoCloseable {

    /** {@code raw} or {@code processed}. */
    String name();

    /**
     * Appends one message without ever blocking the caller (it may be a network event loop). The future completes
     * with the message's offset once it is as durable as the stream's fsync policy promises (with the default policy:
     * on disk, surviving a power cut), and only then. Appends are batched (group commit). When the stream's append
     * queue is full the future is already failed when this returns, with a {@link StreamFullException}: the producer
     * pushes back on its own input. It also completes exceptionally when the stream is closed or the write failed.
     */
    CompletableFuture<Long> append(Message message);

    /**
     * Appends one message, waiting on the calling thread while the append queue is full: for durable producers that
     * run on a thread of their own (scripts, replays, imports), which should slow down rather than fail. Never call it
     * on a network event loop. Otherwise as {@link #append}; an interrupt while waiting fails the future.
     */
    CompletableFuture<Long> appendWaiting(Message message);

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
     * Registers a live listener. It is called for every message once it is durable, in offset order, from the
     * stream's dispatcher thread, never from the thread that writes and acknowledges: a slow listener delays only the
     * other listeners, never appends. It must still return quickly and never block (hand the entry to a bounded
     * queue, or use {@link StreamFollower}, which is the one way to follow a stream). It sees every entry that
     * becomes durable after it was registered, and none from before.
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
