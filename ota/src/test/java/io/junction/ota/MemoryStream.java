package io.junction.ota;

import io.junction.core.Message;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** The stream port in memory, for the OTA service's own tests: taps are called on the appending thread. */
final class MemoryStream implements MessageStream {

    private final List<Message> messages = new ArrayList<>();
    private final CopyOnWriteArrayList<Consumer<StreamEntry>> taps = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
        return "raw";
    }

    @Override
    public synchronized CompletableFuture<Long> append(Message message) {
        long offset = messages.size();
        messages.add(message);
        StreamEntry e = new StreamEntry(offset, message);
        for (Consumer<StreamEntry> t : taps) {
            t.accept(e);
        }
        return CompletableFuture.completedFuture(offset);
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
    public long offsetAt(long epochMillis) {
        return 0;
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
    public long sizeBytes() {
        return 0;
    }

    @Override
    public Tap tap(Consumer<StreamEntry> listener) {
        taps.add(listener);
        return () -> taps.remove(listener);
    }

    @Override
    public void close() {
    }
}
