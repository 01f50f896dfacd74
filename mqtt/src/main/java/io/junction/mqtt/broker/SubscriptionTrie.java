package io.junction.mqtt.broker;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every session's subscriptions, as a tree of topic levels ('+' and '#' are children like any other level).
 * Matching walks the tree without locking; changes are serialised by the tree's monitor.
 */
final class SubscriptionTrie {

    /** One session's subscription to one filter. Immutable: a changed subscription replaces the old one. */
    record Subscription(Session session, String filter, int qos, boolean noLocal, boolean retainAsPublished) {
    }

    private static final class Node {
        final Node parent;
        final String level;
        final Map<String, Node> children = new ConcurrentHashMap<>(4);
        final Map<Session, Subscription> subscribers = new ConcurrentHashMap<>(4);

        Node(Node parent, String level) {
            this.parent = parent;
            this.level = level;
        }

        boolean isEmpty() {
            return children.isEmpty() && subscribers.isEmpty();
        }
    }

    private final Node root = new Node(null, "");
    private int size;

    /** Adds or replaces {@code subscription}; returns whether the session had no subscription to that filter. */
    synchronized boolean subscribe(Subscription subscription) {
        Node node = root;
        for (String level : subscription.filter().split("/", -1)) {
            Node parent = node;
            node = parent.children.computeIfAbsent(level, l -> new Node(parent, l));
        }
        boolean added = node.subscribers.put(subscription.session(), subscription) == null;
        if (added) {
            size++;
        }
        return added;
    }

    /** Removes one subscription; returns whether it existed. */
    synchronized boolean unsubscribe(Session session, String filter) {
        Node node = root;
        for (String level : filter.split("/", -1)) {
            node = node.children.get(level);
            if (node == null) {
                return false;
            }
        }
        boolean removed = node.subscribers.remove(session) != null;
        if (removed) {
            size--;
            prune(node);
        }
        return removed;
    }

    /** Number of subscriptions, over all sessions. */
    synchronized int size() {
        return size;
    }

    private void prune(Node node) {
        while (node.parent != null && node.isEmpty()) {
            node.parent.children.remove(node.level, node);
            node = node.parent;
        }
    }

    /**
     * The subscriptions matching {@code topic}, one per session: where several of a session's filters match,
     * the one with the highest QoS wins.
     */
    List<Subscription> match(String topic) {
        List<Subscription> out = new ArrayList<>();
        boolean dollar = topic.charAt(0) == '$';
        collect(root, topic, 0, out, dollar);
        return out.size() > 1 ? dedupe(out) : out;
    }

    private static void collect(Node node, String topic, int from, List<Subscription> out, boolean skipWildcards) {
        int end = Topics.levelEnd(topic, from);
        if (!skipWildcards) {
            Node hash = node.children.get("#");
            if (hash != null) {
                out.addAll(hash.subscribers.values());
            }
        }
        Node exact = node.children.get(topic.substring(from, end));
        Node plus = skipWildcards ? null : node.children.get("+");
        boolean last = end == topic.length();
        if (exact != null) {
            descend(exact, topic, end, last, out);
        }
        if (plus != null) {
            descend(plus, topic, end, last, out);
        }
    }

    private static void descend(Node child, String topic, int end, boolean last, List<Subscription> out) {
        if (last) {
            out.addAll(child.subscribers.values());
            // "a/#" also matches "a".
            Node hash = child.children.get("#");
            if (hash != null) {
                out.addAll(hash.subscribers.values());
            }
        } else if (!child.children.isEmpty()) {
            collect(child, topic, end + 1, out, false);
        }
    }

    private static List<Subscription> dedupe(List<Subscription> all) {
        if (all.size() > 16) {
            Map<Session, Subscription> best = new IdentityHashMap<>(all.size() * 2);
            for (Subscription s : all) {
                best.merge(s.session(), s, (a, b) -> b.qos() > a.qos() ? b : a);
            }
            return best.size() == all.size() ? all : new ArrayList<>(best.values());
        }
        List<Subscription> out = new ArrayList<>(all.size());
        outer:
        for (Subscription s : all) {
            for (int i = 0; i < out.size(); i++) {
                Subscription kept = out.get(i);
                if (kept.session() == s.session()) {
                    if (s.qos() > kept.qos()) {
                        out.set(i, s);
                    }
                    continue outer;
                }
            }
            out.add(s);
        }
        return out;
    }
}
