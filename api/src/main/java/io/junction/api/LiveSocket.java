package io.junction.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.common.buffers.BufferData;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;
import io.junction.core.Json;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.actor.LatestQueue;
import io.junction.core.hub.EventHub;
import io.junction.core.hub.HubEvent;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket client of {@code /api/ws}: its subscriptions, its bounded queue of live frames and the one virtual
 * thread that writes to it. Only that thread writes to the session (Helidon's session is not safe for concurrent
 * writers), so replies to the client's requests go through a small control queue that the sender empties first.
 *
 * <p>Client frames: {@code {"op":"subscribe"|"unsubscribe","pattern":"bedroom.#","source":"raw"|"events"|...,"id":any}};
 * {@code source} defaults to {@code raw}. Server frames: {@code subscribed}, {@code unsubscribed}, {@code message},
 * {@code event}, {@code dropped}, {@code error}.
 */
final class LiveSocket implements WsListener {

    private static final Logger log = LoggerFactory.getLogger(LiveSocket.class);

    /** The largest text frame a client may send (subscriptions are small). */
    static final int MAX_FRAME_CHARS = 64 * 1024;
    /** The most subscriptions one socket may hold, over all sources. */
    static final int MAX_SUBSCRIPTIONS = 100;
    static final String EVENTS = "events";
    static final String DEFAULT_SOURCE = "raw";
    private static final int BATCH = 256;
    /**
     * How often the sender pings. Helidon closes a connection it has read nothing from for its idle timeout (5 minutes
     * by default), and a client that only listens sends nothing; its pongs keep the connection alive.
     */
    private static final long PING_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final String FRAME_HELP = "send {\"op\": \"subscribe\", \"pattern\": \"bedroom.#\"} or {\"op\": \"unsubscribe\", \"pattern\": \"bedroom.#\"}"
            + ", with an optional \"source\" (\"raw\" by default, or \"events\" for hub events) and \"id\"";

    private final LiveHub live;
    private final EventHub events;
    private final LatestQueue<LiveHub.Outbound> queue;
    /** Replies and pongs, written before live frames. Bounded: a client that never reads its replies stops being read. */
    private final ArrayBlockingQueue<Consumer<WsSession>> control = new ArrayBlockingQueue<>(64);
    /** Stream name → patterns; replaced, never changed, so the stream's thread reads it without a lock. */
    private volatile Map<String, List<RoutingPattern>> patterns = Map.of();
    /** Guarded by this. */
    private final Map<RoutingPattern, EventHub.Subscription> eventSubscriptions = new HashMap<>();
    private final StringBuilder partial = new StringBuilder();
    private boolean partialTooLong;

    private volatile WsSession session;
    private volatile Thread sender;
    private volatile boolean closed;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile int closeCode;
    private volatile String closeReason = "";

    /** Null when the API is open. */
    private final io.junction.core.auth.Authenticator authenticator;

    LiveSocket(LiveHub live, EventHub events, int queueCapacity, io.junction.core.auth.Authenticator authenticator) {
        this.authenticator = authenticator;
        this.live = live;
        this.events = events;
        this.queue = new LatestQueue<>(queueCapacity);
    }

    // --- the stream's side: never blocks

    boolean wants(String stream, RoutingKey key) {
        List<RoutingPattern> list = patterns.get(stream);
        if (list == null) {
            return false;
        }
        for (RoutingPattern p : list) {
            if (p.matches(key)) {
                return true;
            }
        }
        return false;
    }

    void offer(LiveHub.Outbound frame) {
        if (queue.push(frame)) {
            LockSupport.unpark(sender);
        }
    }

    long dropped() {
        return queue.dropped();
    }

    int queued() {
        return queue.size();
    }

    // --- the connection's side

    @Override
    public java.util.Optional<io.helidon.http.Headers> onHttpUpgrade(io.helidon.http.HttpPrologue prologue, io.helidon.http.Headers headers)
            throws io.helidon.websocket.WsUpgradeException {
        Map<String, List<String>> query = new HashMap<>();
        for (String name : prologue.query().names()) {
            query.put(name, List.copyOf(prologue.query().all(name)));
        }
        Map<String, List<String>> h = new HashMap<>();
        for (var header : headers) {
            h.computeIfAbsent(header.name().toLowerCase(java.util.Locale.ROOT), n -> new ArrayList<>()).addAll(header.allValues());
        }
        Tokens.upgrade(authenticator, io.junction.core.http.Access.USER, prologue, h, query);
        return java.util.Optional.empty();
    }

    @Override
    public void onOpen(WsSession session) {
        this.session = session;
        if (!live.opened(this)) {
            session.close(1001, "server stopping");
            return;
        }
        sender = Thread.ofVirtual().name("ws-sender").start(this::sendLoop);
        log.debug("websocket opened remote={}", session.socketContext().remotePeer().address());
    }

    @Override
    public void onMessage(WsSession session, String text, boolean last) {
        if (!partialTooLong) {
            if (partial.length() + text.length() > MAX_FRAME_CHARS) {
                partialTooLong = true;
                partial.setLength(0);
            } else {
                partial.append(text);
            }
        }
        if (!last) {
            return;
        }
        if (partialTooLong) {
            partialTooLong = false;
            error(null, "frame too large", "a frame may have at most " + MAX_FRAME_CHARS + " characters; " + FRAME_HELP);
            return;
        }
        String frame = partial.toString();
        partial.setLength(0);
        handle(frame);
    }

    @Override
    public void onMessage(WsSession session, BufferData buffer, boolean last) {
        if (last) {
            error(null, "binary frame", "binary frames are not understood: send JSON text frames; " + FRAME_HELP);
        }
    }

    @Override
    public void onPing(WsSession session, BufferData buffer) {
        BufferData payload = BufferData.create(buffer.readBytes());
        reply(s -> s.pong(payload));
    }

    @Override
    public void onClose(WsSession session, int status, String reason) {
        close();
    }

    @Override
    public void onError(WsSession session, Throwable t) {
        log.debug("websocket error: {}", t.toString());
        close();
    }

    private void handle(String text) {
        JsonNode frame;
        try {
            frame = Json.parse(text);
        } catch (JsonProcessingException e) {
            error(null, "bad json", "the frame is not valid JSON: " + e.getOriginalMessage() + "; " + FRAME_HELP);
            return;
        } catch (Exception e) {
            error(null, "bad json", "the frame cannot be read as JSON; " + FRAME_HELP);
            return;
        }
        if (frame == null || !frame.isObject()) {
            error(null, "bad frame", "a frame must be a JSON object; " + FRAME_HELP);
            return;
        }
        JsonNode id = frame.get("id");
        JsonNode op = frame.get("op");
        if (op == null || !op.isTextual()) {
            error(id, "bad frame", "'op' is missing or not a string; " + FRAME_HELP);
            return;
        }
        JsonNode patternNode = frame.get("pattern");
        if (patternNode == null || !patternNode.isTextual()) {
            error(id, "bad frame", "'pattern' is missing or not a string; " + FRAME_HELP);
            return;
        }
        RoutingPattern pattern;
        try {
            pattern = RoutingPattern.of(patternNode.textValue());
        } catch (IllegalArgumentException e) {
            error(id, "bad pattern", e.getMessage()
                    + "; a pattern is dotted words where '*' stands for one word and '#' for zero or more, as in 'bedroom.#'");
            return;
        }
        JsonNode sourceNode = frame.get("source");
        if (sourceNode != null && !sourceNode.isTextual()) {
            error(id, "bad frame", "'source' must be a string: " + sources());
            return;
        }
        String source = sourceNode == null ? DEFAULT_SOURCE : sourceNode.textValue();
        if (!source.equals(EVENTS) && !live.streams().contains(source)) {
            error(id, "unknown source", "no source named '" + source + "': " + sources());
            return;
        }
        switch (op.textValue()) {
            case "subscribe" -> reply(subscribe(id, source, pattern));
            case "unsubscribe" -> reply(unsubscribe(id, source, pattern));
            default -> error(id, "unknown op", "'" + op.textValue() + "' is not an op; " + FRAME_HELP);
        }
    }

    private String sources() {
        List<String> names = new ArrayList<>(live.streams());
        names.sort(null);
        names.add(EVENTS);
        return "use one of " + String.join(", ", names);
    }

    /** Adds the subscription and returns the reply; replies are sent outside the lock, as sending may wait. */
    private synchronized Consumer<WsSession> subscribe(JsonNode id, String source, RoutingPattern pattern) {
        if (closed) {
            return s -> { };
        }
        boolean known = source.equals(EVENTS) ? eventSubscriptions.containsKey(pattern)
                : patterns.getOrDefault(source, List.of()).contains(pattern);
        if (!known && subscriptionCount() >= MAX_SUBSCRIPTIONS) {
            live.badFrame();
            return errorFrame(id, "too many subscriptions", "a socket may hold at most " + MAX_SUBSCRIPTIONS
                    + " subscriptions; unsubscribe first");
        }
        if (!known) {
            if (source.equals(EVENTS)) {
                eventSubscriptions.put(pattern, events.subscribe(pattern, 64, this::onEvent));
            } else {
                Map<String, List<RoutingPattern>> next = new LinkedHashMap<>(patterns);
                List<RoutingPattern> list = new ArrayList<>(next.getOrDefault(source, List.of()));
                list.add(pattern);
                next.put(source, List.copyOf(list));
                patterns = Map.copyOf(next);
            }
        }
        return ack("subscribed", id, source, pattern);
    }

    private synchronized Consumer<WsSession> unsubscribe(JsonNode id, String source, RoutingPattern pattern) {
        if (source.equals(EVENTS)) {
            EventHub.Subscription sub = eventSubscriptions.remove(pattern);
            if (sub != null) {
                sub.close();
            }
        } else {
            List<RoutingPattern> current = patterns.getOrDefault(source, List.of());
            if (current.contains(pattern)) {
                Map<String, List<RoutingPattern>> next = new LinkedHashMap<>(patterns);
                List<RoutingPattern> list = new ArrayList<>(current);
                list.remove(pattern);
                if (list.isEmpty()) {
                    next.remove(source);
                } else {
                    next.put(source, List.copyOf(list));
                }
                patterns = Map.copyOf(next);
            }
        }
        return ack("unsubscribed", id, source, pattern);
    }

    private int subscriptionCount() {
        int n = eventSubscriptions.size();
        for (List<RoutingPattern> list : patterns.values()) {
            n += list.size();
        }
        return n;
    }

    /** Runs on the subscription's own thread; hub events are rare, so each is written for each socket. */
    private void onEvent(HubEvent event) {
        ObjectNode frame = Json.object();
        frame.put("type", "event");
        frame.put("key", event.key().value());
        try {
            frame.set("event", Json.MAPPER.valueToTree(event));
        } catch (IllegalArgumentException e) {
            log.warn("hub event {} cannot be written as JSON: {}", event.getClass().getName(), e.getMessage());
            frame.putObject("event");
        }
        offer(new LiveHub.TextFrame(frame.toString()));
    }

    private Consumer<WsSession> ack(String type, JsonNode id, String source, RoutingPattern pattern) {
        ObjectNode frame = Json.object();
        frame.put("type", type);
        frame.put("pattern", pattern.value());
        frame.put("source", source);
        if (id != null) {
            frame.set("id", id);
        }
        String text = frame.toString();
        return s -> s.send(text, true);
    }

    private void error(JsonNode id, String error, String detail) {
        live.badFrame();
        reply(errorFrame(id, error, detail));
    }

    private static Consumer<WsSession> errorFrame(JsonNode id, String error, String detail) {
        ObjectNode frame = Json.object();
        frame.put("type", "error");
        frame.put("error", error);
        frame.put("detail", detail);
        if (id != null) {
            frame.set("id", id);
        }
        String text = frame.toString();
        return s -> s.send(text, true);
    }

    /** Queues a write for the sender; waits while 64 are already waiting, so a client that does not read is not read either. */
    private void reply(Consumer<WsSession> write) {
        try {
            while (!closed) {
                if (control.offer(write, 200, TimeUnit.MILLISECONDS)) {
                    LockSupport.unpark(sender);
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // --- the sender

    private void sendLoop() {
        WsSession s = session;
        List<LiveHub.Outbound> batch = new ArrayList<>(BATCH);
        long nextPing = System.nanoTime() + PING_NANOS;
        try {
            while (!closed) {
                if (System.nanoTime() - nextPing >= 0) {
                    s.ping(BufferData.empty());
                    nextPing = System.nanoTime() + PING_NANOS;
                }
                Consumer<WsSession> c;
                while ((c = control.poll()) != null) {
                    c.accept(s);
                }
                batch.clear();
                long dropped = queue.drainTo(batch, BATCH, 0);
                if (dropped < 0) {
                    break;
                }
                if (dropped > 0) {
                    s.send("{\"type\":\"dropped\",\"count\":" + dropped + "}", true);
                }
                for (LiveHub.Outbound o : batch) {
                    if (closed) {
                        break;
                    }
                    s.send(o.text(), true);
                }
                if (batch.isEmpty() && control.isEmpty() && !closed) {
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                }
            }
            if (closeCode != 0) {
                s.close(closeCode, closeReason);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // The client went away while we wrote to it (or the session broke): nothing more can be sent.
            log.debug("websocket send failed: {}", e.toString());
        } finally {
            close();
        }
    }

    /** Waits up to {@code millis} for the sender to finish (after {@link #shutdown}, once its close frame is written). */
    void awaitStopped(long millis) {
        Thread t = sender;
        if (t == null) {
            return;
        }
        try {
            t.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Ends this socket from the server's side: the sender writes a close frame and stops. */
    void shutdown(int code, String reason) {
        closeReason = reason;
        closeCode = code;
        close();
    }

    private void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        closed = true;
        List<EventHub.Subscription> subs;
        synchronized (this) {
            patterns = Map.of();
            subs = new ArrayList<>(eventSubscriptions.values());
            eventSubscriptions.clear();
        }
        for (EventHub.Subscription sub : subs) {
            sub.close();
        }
        queue.close();
        live.closed(this, queue.dropped());
        LockSupport.unpark(sender);
    }
}
