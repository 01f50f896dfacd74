package io.junction.mqtt.broker;

import io.junction.mqtt.broker.SubscriptionTrie.Subscription;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.codec.mqtt.MqttProperties;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's shared state and routing: sessions, the subscription tree, retained messages, the client
 * registry. Connections call into it from their network threads; the server's publishes from any thread.
 *
 * <p>Opening, ending and expiring sessions (and their delayed wills) are serialised by {@link #sessionLock};
 * routing a message takes no broker-wide lock, only the monitor of each receiving session.
 */
final class BrokerCore {

    private static final Logger log = LoggerFactory.getLogger(BrokerCore.class);

    final BrokerSettings settings;
    final BrokerMetrics metrics;
    final Clock clock;
    final PublishHandler handler;
    final Authenticator authenticator;
    final ClientRegistry registry;
    private final SubscriptionTrie trie = new SubscriptionTrie();
    private final Map<String, Publication> retained = new ConcurrentHashMap<>();
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final List<ConnectionListener> listeners = new CopyOnWriteArrayList<>();
    private final Object sessionLock = new Object();
    private volatile boolean closing;

    BrokerCore(BrokerSettings settings, PublishHandler handler, MeterRegistry meterRegistry, Clock clock) {
        this.settings = settings;
        this.handler = handler;
        this.clock = clock;
        this.metrics = new BrokerMetrics(meterRegistry, sessions::size, retained::size, trie::size);
        this.authenticator = new Authenticator(settings);
        this.registry = new ClientRegistry(Math.max(10_000, settings.maxSessions().orElse(0)));
    }

    boolean isClosing() {
        return closing;
    }

    void startClosing() {
        closing = true;
    }

    // ---- routing ---------------------------------------------------------------------------------------

    /** Delivers to every matching subscription; returns to how many sessions it was written or queued. */
    int route(Publication p) {
        List<Subscription> matches = trie.match(p.topic());
        int delivered = 0;
        for (int i = 0, n = matches.size(); i < n; i++) {
            Subscription s = matches.get(i);
            if (s.noLocal() && s.session() == p.origin()) {
                continue;
            }
            int qos = Math.min(p.qos(), s.qos());
            if (s.session().deliver(p, qos, p.retain() && s.retainAsPublished())) {
                delivered++;
            }
        }
        return delivered;
    }

    /** Stores (or, with an empty payload, clears) the retained message of the publication's topic. */
    void retain(Publication p) {
        if (p.payload().length == 0) {
            retained.remove(p.topic());
        } else {
            retained.put(p.topic(), p.forRetainedStore());
        }
    }

    /** Sends the retained messages matching a new subscription, with the retain flag set. */
    void sendRetained(Session session, String filter, int grantedQos) {
        for (Publication p : retained.values()) {
            if (Topics.matches(filter, p.topic(), true)) {
                session.deliver(p, Math.min(p.qos(), grantedQos), true);
            }
        }
    }

    /** Adds or replaces a subscription; returns whether it is new (for retain handling 1). */
    boolean subscribe(Session session, String filter, int qos, boolean noLocal, boolean retainAsPublished) {
        Subscription s = new Subscription(session, filter, qos, noLocal, retainAsPublished);
        if (!session.putSubscription(s)) {
            return false;
        }
        return trie.subscribe(s);
    }

    boolean unsubscribe(Session session, String filter) {
        boolean had = session.removeSubscription(filter);
        return trie.unsubscribe(session, filter) || had;
    }

    /** A publish made by the server (REST egress); not passed to the handler. */
    int publishFromServer(String topic, byte[] payload, int qos, boolean retain) {
        Publication p = new Publication(topic, payload, qos, retain, MqttProperties.NO_PROPERTIES, null);
        if (retain) {
            retain(p);
        }
        return route(p);
    }

    // ---- sessions ----------------------------------------------------------------------------------------

    /** What opening a session found: the session, whether it existed, the connection it is taken from. */
    record Opened(Session session, boolean present, MqttConnection previous) {
    }

    /**
     * Finds or creates the session of {@code clientId} and makes {@code owner} its owner. The owner is bound
     * for deliveries later, with {@link #attach}, once its CONNACK is written. Returns null if the session limit
     * is reached.
     */
    Opened openSession(String clientId, boolean cleanStart, long expirySeconds, MqttConnection owner) {
        List<Will> willsNow = new ArrayList<>(1);
        Opened opened;
        synchronized (sessionLock) {
            Session existing = sessions.get(clientId);
            MqttConnection previous = null;
            boolean present = false;
            if (existing != null) {
                previous = existing.owner;
                if (cleanStart) {
                    endLocked(existing, willsNow);
                    existing = null;
                } else {
                    present = true;
                    // A client that comes back in time cancels its delayed will.
                    existing.pendingWill = null;
                }
            }
            if (existing == null) {
                if (settings.maxSessions().isPresent() && sessions.size() >= settings.maxSessions().getAsInt()) {
                    return null;
                }
                existing = new Session(clientId, settings.maxQueuedPerSession(), metrics);
                sessions.put(clientId, existing);
            }
            existing.owner = owner;
            existing.expiryIntervalSeconds = expirySeconds;
            opened = new Opened(existing, present, previous);
        }
        willsNow.forEach(this::publishWill);
        return opened;
    }

    /** Binds the session to its owner for deliveries; false if another connection took it over meanwhile. */
    boolean attach(Session session, MqttConnection owner) {
        synchronized (sessionLock) {
            if (session.owner != owner || session.isEnded()) {
                return false;
            }
            session.attach(owner);
            return true;
        }
    }

    /** Called when a connection that owned a session ends; keeps or ends the session and handles the will. */
    void connectionClosed(MqttConnection c, Session session, Will will, boolean publishWill) {
        Will now = null;
        List<Will> ended = new ArrayList<>(1);
        synchronized (sessionLock) {
            session.detach(c);
            boolean current = session.owner == c;
            if (current) {
                session.owner = null;
                if (session.expiryIntervalSeconds == 0 || closing) {
                    endLocked(session, ended);
                } else {
                    session.offlineSinceMillis = clock.millis();
                }
            }
            if (publishWill && will != null && !closing) {
                long delay = Math.min(will.delaySeconds(), session.expiryIntervalSeconds);
                if (delay > 0 && current && !session.isEnded()) {
                    session.pendingWill = will;
                    session.willDueAtMillis = clock.millis() + delay * 1000;
                } else {
                    now = will;
                }
            }
        }
        ended.forEach(this::publishWill);
        if (now != null) {
            publishWill(now);
        }
    }

    private void endLocked(Session session, List<Will> willsOut) {
        sessions.remove(session.clientId, session);
        session.owner = null;
        if (session.pendingWill != null) {
            willsOut.add(session.pendingWill);
            session.pendingWill = null;
        }
        for (String filter : session.end()) {
            trie.unsubscribe(session, filter);
        }
    }

    /** Sets the session expiry a client sent with its MQTT 5 DISCONNECT. */
    void updateExpiry(Session session, long expirySeconds) {
        synchronized (sessionLock) {
            session.expiryIntervalSeconds = Math.min(expirySeconds, settings.maxSessionExpiry().toSeconds());
        }
    }

    /** Ends expired offline sessions and publishes wills whose delay is over. Runs once a second. */
    void sweep() {
        long now = clock.millis();
        List<Will> due = new ArrayList<>();
        synchronized (sessionLock) {
            for (Session s : sessions.values()) {
                if (s.pendingWill != null && s.willDueAtMillis <= now) {
                    due.add(s.pendingWill);
                    s.pendingWill = null;
                }
                if (s.owner == null && s.offlineSinceMillis > 0
                        && now - s.offlineSinceMillis >= s.expiryIntervalSeconds * 1000) {
                    endLocked(s, due);
                }
            }
        }
        due.forEach(this::publishWill);
        registry.trim();
    }

    int sessionCount() {
        return sessions.size();
    }

    // ---- wills and listeners -------------------------------------------------------------------------------

    void publishWill(Will w) {
        if (closing) {
            return;
        }
        Publication p = new Publication(w.topic(), w.payload(), w.qos(), w.retain(), w.properties(), null);
        if (w.retain()) {
            retain(p);
        }
        route(p);
        InboundPublish ip = new InboundPublish(w.clientId(), w.username(), w.deviceUid(), w.topic(), w.payload(),
                w.qos(), w.retain(), clock.millis(), w.payloadIsUtf8Declared());
        try {
            CompletionStage<?> stage = handler.onPublish(ip);
            if (stage != null) {
                stage.whenComplete((r, e) -> {
                    if (e != null) {
                        log.warn("Will of client {} on topic {} could not be ingested: {}", w.clientId(), w.topic(), e.toString());
                    }
                });
            }
        } catch (RuntimeException e) {
            log.warn("Will of client {} on topic {} could not be ingested: {}", w.clientId(), w.topic(), e.toString());
        }
    }

    void addListener(ConnectionListener listener) {
        listeners.add(listener);
    }

    void fireConnected(ClientInfo info) {
        for (ConnectionListener l : listeners) {
            try {
                l.connected(info);
            } catch (RuntimeException e) {
                log.warn("Connection listener failed on connect of {}", info.clientId(), e);
            }
        }
    }

    void fireDisconnected(ClientInfo info, DisconnectReason reason) {
        for (ConnectionListener l : listeners) {
            try {
                l.disconnected(info, reason);
            } catch (RuntimeException e) {
                log.warn("Connection listener failed on disconnect of {}", info.clientId(), e);
            }
        }
    }

    void close() {
        closing = true;
        authenticator.close();
        metrics.close();
    }
}
