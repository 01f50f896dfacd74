package io.junction.mqtt.broker;

import io.junction.mqtt.broker.BrokerMetrics.Drop;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The broker-side state of one client id, which outlives its connections when the client asked for a
 * persistent session: subscriptions, QoS 1/2 messages not yet acknowledged, and messages queued while the
 * client is offline or its window is full (bounded; the oldest is dropped and counted).
 *
 * <p>Deliveries arrive from any network thread (or the server's publish call), so the state is guarded by
 * this object's monitor. Writes to the connection happen inside it, which keeps packet ids and the queue
 * consistent; Netty hands a write from a foreign thread to the channel's own event loop.
 */
final class Session {

    /** One QoS 1/2 message for this session, waiting to be sent or acknowledged. */
    static final class Outbound {
        final Publication publication;
        final int qos;
        final boolean retain;
        int packetId;
        /** QoS 2: PUBREC received and PUBREL sent; only PUBCOMP is missing. */
        boolean released;

        Outbound(Publication publication, int qos, boolean retain) {
            this.publication = publication;
            this.qos = qos;
            this.retain = retain;
        }
    }

    final String clientId;
    private final int maxQueued;
    private final BrokerMetrics metrics;

    // Guarded by this.
    private MqttConnection connection;
    private boolean ended;
    private final Map<String, SubscriptionTrie.Subscription> subscriptions = new HashMap<>();
    private final ArrayDeque<Outbound> queue = new ArrayDeque<>();
    /** In the order they were sent, which is also packet id order (modulo wrap-around). */
    private final ArrayDeque<Outbound> inflight = new ArrayDeque<>();
    private int lastPacketId;
    /** QoS 2 packet ids received and PUBREC'd, waiting for PUBREL. */
    private final Set<Integer> inboundQos2 = new HashSet<>();

    // Guarded by the BrokerCore's session lock.
    /** The connection that opened the session last and has not closed; null while the client is offline. */
    MqttConnection owner;
    long expiryIntervalSeconds;
    long offlineSinceMillis;
    Will pendingWill;
    long willDueAtMillis;

    Session(String clientId, int maxQueued, BrokerMetrics metrics) {
        this.clientId = clientId;
        this.maxQueued = maxQueued;
        this.metrics = metrics;
    }

    /**
     * Delivers (or queues) one message at the given QoS. Returns whether it was written or queued; QoS 0
     * messages for an offline or slow client are not kept.
     */
    synchronized boolean deliver(Publication publication, int qos, boolean retain) {
        if (ended) {
            return false;
        }
        MqttConnection c = connection;
        if (qos == 0) {
            return c != null && c.sendQos0(publication, retain);
        }
        Outbound o = new Outbound(publication, qos, retain);
        if (c != null && queue.isEmpty() && inflight.size() < c.sendWindow()) {
            if (c.tooLarge(publication)) {
                return false;
            }
            send(c, o);
            return true;
        }
        if (queue.size() >= maxQueued) {
            queue.pollFirst();
            metrics.dropped(Drop.QUEUE_FULL);
        }
        queue.addLast(o);
        return true;
    }

    private void send(MqttConnection c, Outbound o) {
        o.packetId = nextPacketId();
        inflight.addLast(o);
        c.sendPublish(o, false);
    }

    private int nextPacketId() {
        // Ids are handed out in order and the window is smaller than 65535, so the next one is never in use.
        lastPacketId = lastPacketId == 65_535 ? 1 : lastPacketId + 1;
        return lastPacketId;
    }

    private void drain() {
        MqttConnection c = connection;
        while (c != null && !queue.isEmpty() && inflight.size() < c.sendWindow()) {
            Outbound o = queue.pollFirst();
            if (c.tooLarge(o.publication)) {
                continue;
            }
            send(c, o);
        }
    }

    /** PUBACK for a QoS 1 message. */
    synchronized void onPubAck(int packetId) {
        if (remove(packetId, 1)) {
            drain();
        }
    }

    /** PUBREC for a QoS 2 message: returns whether it was known (either way, PUBREL must be sent). */
    synchronized boolean onPubRec(int packetId, boolean failed) {
        for (Iterator<Outbound> it = inflight.iterator(); it.hasNext(); ) {
            Outbound o = it.next();
            if (o.packetId == packetId && o.qos == 2) {
                if (failed) {
                    // A PUBREC with a failure reason ends the exchange (MQTT 5).
                    it.remove();
                    drain();
                } else {
                    o.released = true;
                }
                return true;
            }
        }
        return false;
    }

    /** PUBCOMP for a QoS 2 message. */
    synchronized void onPubComp(int packetId) {
        if (remove(packetId, 2)) {
            drain();
        }
    }

    private boolean remove(int packetId, int qos) {
        Outbound head = inflight.peekFirst();
        if (head != null && head.packetId == packetId && head.qos == qos) {
            inflight.pollFirst();
            return true;
        }
        for (Iterator<Outbound> it = inflight.iterator(); it.hasNext(); ) {
            Outbound o = it.next();
            if (o.packetId == packetId && o.qos == qos) {
                it.remove();
                return true;
            }
        }
        return false;
    }

    synchronized boolean hasInboundQos2(int packetId) {
        return inboundQos2.contains(packetId);
    }

    synchronized void addInboundQos2(int packetId) {
        inboundQos2.add(packetId);
    }

    synchronized boolean releaseInboundQos2(int packetId) {
        return inboundQos2.remove(packetId);
    }

    /**
     * Binds the session to a connection whose CONNACK has been written: resends what was not acknowledged
     * (PUBLISH with DUP, or PUBREL), then what was queued.
     */
    synchronized void attach(MqttConnection c) {
        connection = c;
        for (Outbound o : inflight) {
            if (o.released) {
                c.sendPubRel(o.packetId);
            } else {
                c.sendPublish(o, true);
            }
        }
        drain();
    }

    /** Unbinds {@code c} if it is still this session's connection. */
    synchronized void detach(MqttConnection c) {
        if (connection == c) {
            connection = null;
        }
    }

    synchronized boolean isEnded() {
        return ended;
    }

    /** Records a subscription; returns false if the session has ended. */
    synchronized boolean putSubscription(SubscriptionTrie.Subscription s) {
        if (ended) {
            return false;
        }
        subscriptions.put(s.filter(), s);
        return true;
    }

    synchronized boolean removeSubscription(String filter) {
        return subscriptions.remove(filter) != null;
    }

    /** Ends the session: drops everything and returns the filters to remove from the subscription tree. */
    synchronized List<String> end() {
        ended = true;
        connection = null;
        List<String> filters = new ArrayList<>(subscriptions.keySet());
        subscriptions.clear();
        queue.clear();
        inflight.clear();
        inboundQos2.clear();
        return filters;
    }
}
