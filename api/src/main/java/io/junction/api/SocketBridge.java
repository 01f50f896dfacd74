package io.junction.api;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;
import io.helidon.websocket.WsUpgradeException;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.Principal;
import io.junction.core.http.RouteTable;
import io.junction.core.http.SocketEndpoint;
import io.junction.core.http.SocketSession;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a feature's {@link SocketEndpoint} over a Helidon WebSocket: authenticates the upgrade, hands whole text
 * frames to the feature's listener, and writes the feature's frames through a bounded queue emptied by one virtual
 * thread; a client that lets it fill is disconnected. A frame sent from the socket's own reader thread (an answer
 * made while handling the client's frame) is written at once when nothing is queued, saving a thread hand-off; any
 * other thread only queues, so a slow client never blocks a module or a stream. One lock keeps writes one at a time
 * (Helidon's session is not safe for concurrent writers), the queued count keeps them in order.
 */
final class SocketBridge implements WsListener, SocketSession {

    private static final Logger log = LoggerFactory.getLogger(SocketBridge.class);

    static final int MAX_FRAME_CHARS = 256 * 1024;
    static final int QUEUE = 8192;
    private static final Object CLOSE = new Object();

    private final RouteTable.Socket socket;
    private final Authenticator authenticator;
    private final ArrayBlockingQueue<Object> out = new ArrayBlockingQueue<>(QUEUE);
    private final StringBuilder partial = new StringBuilder();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.locks.ReentrantLock writing = new java.util.concurrent.locks.ReentrantLock();
    /** Frames queued and not yet written. */
    private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();
    /** The thread handing the client's frame to the listener, while it does. */
    private volatile Thread reader;
    private volatile Optional<Principal> caller = Optional.empty();
    private volatile Map<String, List<String>> query = Map.of();
    private volatile WsSession session;
    private volatile SocketEndpoint.SocketListener listener;
    private volatile int closeCode = 1000;
    private volatile String closeReason = "";

    SocketBridge(RouteTable.Socket socket, Authenticator authenticator) {
        this.socket = socket;
        this.authenticator = authenticator;
    }

    @Override
    public Optional<Headers> onHttpUpgrade(HttpPrologue prologue, Headers headers) throws WsUpgradeException {
        Map<String, List<String>> q = new LinkedHashMap<>();
        for (String name : prologue.query().names()) {
            q.put(name, List.copyOf(prologue.query().all(name)));
        }
        Map<String, List<String>> h = new HashMap<>();
        for (var header : headers) {
            h.computeIfAbsent(header.name().toLowerCase(Locale.ROOT), n -> new ArrayList<>()).addAll(header.allValues());
        }
        query = Map.copyOf(q);
        caller = Tokens.upgrade(authenticator, socket.access(), prologue, h, q);
        return Optional.empty();
    }

    @Override
    public void onOpen(WsSession session) {
        this.session = session;
        Thread.ofVirtual().name("ws-writer " + socket.path()).start(this::writeLoop);
        try {
            listener = socket.endpoint().open(this);
        } catch (RuntimeException e) {
            log.warn("opening a socket on {} failed: {}", socket.path(), e.toString(), e);
            close(1011, "the server cannot serve this socket");
        }
    }

    @Override
    public void onMessage(WsSession session, String text, boolean last) {
        if (partial.length() + text.length() > MAX_FRAME_CHARS) {
            partial.setLength(0);
            close(1009, "a frame may have at most " + MAX_FRAME_CHARS + " characters");
            return;
        }
        partial.append(text);
        if (!last) {
            return;
        }
        String frame = partial.toString();
        partial.setLength(0);
        SocketEndpoint.SocketListener l = listener;
        if (l != null) {
            reader = Thread.currentThread();
            try {
                l.onText(frame);
            } catch (RuntimeException e) {
                log.warn("a frame on {} failed: {}", socket.path(), e.toString(), e);
            } finally {
                reader = null;
            }
        }
    }

    @Override
    public void onMessage(WsSession session, BufferData buffer, boolean last) {
        if (last) {
            close(1003, "binary frames are not understood: send JSON text frames");
        }
    }

    @Override
    public void onClose(WsSession session, int status, String reason) {
        ended();
    }

    @Override
    public void onError(WsSession session, Throwable t) {
        log.debug("websocket error on {}: {}", socket.path(), t.toString());
        ended();
    }

    // --- SocketSession, for the feature

    @Override
    public Optional<Principal> caller() {
        return caller;
    }

    @Override
    public Map<String, List<String>> query() {
        return query;
    }

    @Override
    public boolean send(String text) {
        if (closed.get()) {
            return false;
        }
        if (reader == Thread.currentThread() && queued.get() == 0 && writing.tryLock()) {
            try {
                if (queued.get() == 0 && !closed.get()) {
                    session.send(text, true);
                    return true;
                }
            } catch (RuntimeException e) {
                log.debug("writing to a websocket on {} failed: {}", socket.path(), e.toString());
                ended();
                return false;
            } finally {
                writing.unlock();
            }
        }
        queued.incrementAndGet();
        if (!out.offer(text)) {
            queued.decrementAndGet();
            log.info("websocket on {} closed: the client did not read {} queued frames", socket.path(), QUEUE);
            close(1008, "the client does not read its frames fast enough");
            return false;
        }
        return true;
    }

    @Override
    public void close(int code, String reason) {
        if (closed.compareAndSet(false, true)) {
            closeCode = code;
            closeReason = reason;
            out.clear();
            out.offer(CLOSE);
            notifyListener();
        }
    }

    private void ended() {
        if (closed.compareAndSet(false, true)) {
            out.clear();
            out.offer(CLOSE);
        }
        notifyListener();
    }

    private final AtomicBoolean listenerClosed = new AtomicBoolean();

    private void notifyListener() {
        SocketEndpoint.SocketListener l = listener;
        if (l != null && listenerClosed.compareAndSet(false, true)) {
            try {
                l.onClose();
            } catch (RuntimeException e) {
                log.warn("closing a socket on {} failed: {}", socket.path(), e.toString(), e);
            }
        }
    }

    private void writeLoop() {
        List<Object> batch = new ArrayList<>();
        try {
            while (true) {
                Object first = out.poll(30, TimeUnit.SECONDS);
                if (first == null) {
                    if (closed.get()) {
                        return;
                    }
                    writing.lock();
                    try {
                        session.ping(BufferData.empty());
                    } finally {
                        writing.unlock();
                    }
                    continue;
                }
                batch.add(first);
                out.drainTo(batch, 255);
                writing.lock();
                try {
                    for (Object o : batch) {
                        if (o == CLOSE) {
                            session.close(closeCode, closeReason);
                            return;
                        }
                        session.send((String) o, true);
                        queued.decrementAndGet();
                    }
                } finally {
                    writing.unlock();
                }
                batch.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.debug("writing to a websocket on {} failed: {}", socket.path(), e.toString());
            ended();
        }
    }
}
