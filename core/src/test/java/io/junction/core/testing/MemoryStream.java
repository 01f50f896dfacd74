package io.junction.core.testing;

import io.junction.core.Message;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A stream in memory, for tests of what reads streams: offsets from 0, every append durable at once, no bound on the
 * append queue (so {@link #append} never fails for lack of room). Taps are called in offset order on the appending
 * thread before {@code append} returns, which keeps tests deterministic; the real log calls them from a dispatcher
 * thread instead, so code under test must not rely on this.
 */
public final class MemoryStream implements MessageStream {

    private final String name;
    private final List<Message> messages = new ArrayList<>();
    private final CopyOnWriteArrayList<Consumer<StreamEntry>> taps = new CopyOnWriteArrayList<>();
    private long bytes;
    private boolean closed;

    public MemoryStream(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized CompletableFuture<Long> append(Message message) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("stream '" + name + "' is closed"));
        }
        long offset = messages.size();
        messages.add(message);
        bytes += 64 + message.body().length();
        StreamEntry entry = new StreamEntry(offset, message);
        for (Consumer<StreamEntry> tap : taps) {
            try {
                tap.accept(entry);
            } catch (RuntimeException e) {
                // As the real log does: a broken listener neither fails the append nor stops the other listeners.
            }
        }
        return CompletableFuture.completedFuture(offset);
    }

    @Override
    public CompletableFuture<Long> appendWaiting(Message message) {
        return append(message);
    }

    @Override
    public synchronized List<StreamEntry> read(long fromOffset, int max) {
        List<StreamEntry> out = new ArrayList<>();
        for (long o = Math.max(0, fromOffset); o < messages.size() && out.size() < max; o++) {
            out.add(new StreamEntry(o, messages.get((int) o)));
        }
        return out;
    }

    @Override
    public synchronized long offsetAt(long epochMillis) {
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).ts() >= epochMillis) {
                return i;
            }
        }
        return messages.size();
    }

    @Override
    public synchronized long endOffset() {
        return messages.size();
    }

    @Override
    public long startOffset() {
        return 0;
    }

    @Override
    public synchronized long sizeBytes() {
        return bytes;
    }

    @Override
    public Tap tap(Consumer<StreamEntry> listener) {
        taps.add(listener);
        return () -> taps.remove(listener);
    }

    /** Later appends fail; what was appended stays readable. */
    @Override
    public synchronized void close() {
        closed = true;
    }
}
