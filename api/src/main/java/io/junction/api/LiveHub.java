package io.junction.api;

import com.fasterxml.jackson.core.JsonGenerator;
import io.junction.core.Json;
import io.junction.core.RoutingKey;
import io.junction.core.hub.EventHub;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live side of the WebSocket: one tap per stream, whose listener hands each entry to every socket with a matching
 * subscription. It runs on the stream's dispatcher thread (never the thread that writes and acknowledges), so it never
 * blocks: each socket has a bounded {@link io.junction.core.actor.LatestQueue} that drops its oldest item when the
 * socket falls behind, and the drops are counted and told to that socket. A message's frame is written once per entry,
 * by the first socket that sends it.
 *
 * <p>Why a tap and not a latest-only {@link io.junction.core.stream.StreamFollower}: the sockets' own queues already
 * are the latest-only buffers, with an exact count of what each socket missed. A follower in front would add a thread
 * hand-off per message on the live path, and what it dropped could not be told to the sockets that wanted it.
 */
final class LiveHub implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LiveHub.class);

    private final EventHub events;
    private final int queueCapacity;
    private final Map<String, MessageStream.Tap> taps = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<LiveSocket> sockets = new CopyOnWriteArrayList<>();
    /** Drops of sockets already closed, so the counter never goes back. */
    private final AtomicLong retiredDrops = new AtomicLong();
    private final Counter badFrames;
    private volatile boolean closed;

    private final io.junction.core.auth.Authenticator authenticator;

    LiveHub(EventHub events, int queueCapacity, MeterRegistry metrics, io.junction.core.auth.Authenticator authenticator) {
        this.authenticator = authenticator;
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("the live queue capacity must be at least 1, got " + queueCapacity);
        }
        this.events = events;
        this.queueCapacity = queueCapacity;
        Gauge.builder("junction.live.clients", sockets, List::size)
                .description("WebSocket clients connected").register(metrics);
        Gauge.builder("junction.live.queued", this, LiveHub::queued)
                .description("Messages waiting to be sent to WebSocket clients").register(metrics);
        FunctionCounter.builder("junction.live.dropped", this, LiveHub::dropped)
                .description("Messages dropped because a WebSocket client fell behind").register(metrics);
        this.badFrames = Counter.builder("junction.live.bad.frames")
                .description("Frames from WebSocket clients that were rejected").register(metrics);
    }

    /** Starts handing the entries of {@code stream} to sockets that subscribe with {@code "source": <its name>}. */
    void addStream(MessageStream stream) {
        String name = stream.name();
        if (taps.containsKey(name)) {
            throw new IllegalArgumentException("the stream '" + name + "' is already live");
        }
        taps.put(name, stream.tap(entry -> fanOut(name, entry)));
    }

    Set<String> streams() {
        return taps.keySet();
    }

    /** A listener for one new WebSocket connection. */
    LiveSocket newSocket() {
        return new LiveSocket(this, events, queueCapacity, authenticator);
    }

    private void fanOut(String stream, StreamEntry entry) {
        try {
            RoutingKey key = entry.message().key();
            MessageFrame frame = null;
            for (LiveSocket s : sockets) {
                if (s.wants(stream, key)) {
                    if (frame == null) {
                        frame = new MessageFrame(stream, entry);
                    }
                    s.offer(frame);
                }
            }
        } catch (RuntimeException e) {
            // Never let a live client break the stream's dispatcher.
            log.warn("live fan-out of stream={} offset={} failed: {}", stream, entry.offset(), e.toString(), e);
        }
    }

    boolean opened(LiveSocket socket) {
        if (closed) {
            return false;
        }
        sockets.add(socket);
        return true;
    }

    void closed(LiveSocket socket, long drops) {
        if (sockets.remove(socket)) {
            retiredDrops.addAndGet(drops);
        }
    }

    void badFrame() {
        badFrames.increment();
    }

    int clients() {
        return sockets.size();
    }

    long dropped() {
        long sum = retiredDrops.get();
        for (LiveSocket s : sockets) {
            sum += s.dropped();
        }
        return sum;
    }

    long queued() {
        long sum = 0;
        for (LiveSocket s : sockets) {
            sum += s.queued();
        }
        return sum;
    }

    @Override
    public void close() {
        closed = true;
        for (MessageStream.Tap tap : taps.values()) {
            tap.close();
        }
        taps.clear();
        List<LiveSocket> open = List.copyOf(sockets);
        for (LiveSocket s : open) {
            s.shutdown(1001, "server stopping");
        }
        // Give each sender a moment to write its close frame before the server drops the connections.
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(2);
        for (LiveSocket s : open) {
            s.awaitStopped(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        }
    }

    /** What a socket's sender writes: one text frame. */
    interface Outbound {
        String text();
    }

    /** A frame whose text is known. */
    record TextFrame(String text) implements Outbound {
    }

    /**
     * {@code {"type":"message","stream":...,"message":{...}}} for one entry, shared by every socket it goes to; the
     * first sender to need the text writes it. Two senders may both write it at once: the result is the same string.
     */
    static final class MessageFrame implements Outbound {
        private final String stream;
        private final StreamEntry entry;
        private volatile String text;

        MessageFrame(String stream, StreamEntry entry) {
            this.stream = stream;
            this.entry = entry;
        }

        @Override
        public String text() {
            String t = text;
            if (t == null) {
                StringWriter w = new StringWriter(200 + entry.message().body().length());
                try (JsonGenerator g = Json.MAPPER.createGenerator(w)) {
                    g.writeStartObject();
                    g.writeStringField("type", "message");
                    g.writeStringField("stream", stream);
                    g.writeFieldName("message");
                    Json.writeMessage(g, entry.message(), entry.offset());
                    g.writeEndObject();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                t = w.toString();
                text = t;
            }
            return t;
        }
    }
}
