package io.junction.engine;

import io.junction.core.stream.StreamEntry;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The engine's one tap on the raw stream. On the stream's writer thread, for each durable message, it offers the
 * message to every actor whose patterns match (a non-blocking offer into the actor's bounded mailbox) and then
 * records how far it has looked, so an idle actor can move its offset past messages that were not for it.
 */
final class Dispatcher implements Consumer<StreamEntry> {

    private volatile ScriptActor[] actors = new ScriptActor[0];
    /** The raw offset after the last message offered to every actor. */
    private volatile long watermark;

    @Override
    public void accept(StreamEntry e) {
        for (ScriptActor a : actors) {
            a.offer(e);
        }
        watermark = e.offset() + 1;
    }

    long watermark() {
        return watermark;
    }

    synchronized void add(ScriptActor a) {
        ScriptActor[] now = Arrays.copyOf(actors, actors.length + 1);
        now[now.length - 1] = a;
        actors = now;
    }

    synchronized void remove(ScriptActor a) {
        actors = Arrays.stream(actors).filter(x -> x != a).toArray(ScriptActor[]::new);
    }
}
