package io.junction.core.hub;

import io.junction.core.RoutingPattern;
import io.junction.core.actor.LatestQueue;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where components register (and say whether they are ready) and publish or subscribe typed events by
 * routing-key pattern. It is not a bus for device data: the streams are. Each subscriber has its own bounded queue
 * and virtual thread; a subscriber that falls behind loses its oldest events, and the loss is counted.
 */
public final class EventHub implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EventHub.class);

    private final Clock clock;
    private final ConcurrentHashMap<String, ComponentState> components = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Sub> subscriptions = new CopyOnWriteArrayList<>();
    private final LongAdder published = new LongAdder();

    public EventHub(Clock clock) {
        this.clock = clock;
    }

    /** Registers a component as starting and returns the handle through which it reports its state. */
    public Registration register(String name) {
        if (components.putIfAbsent(name, new ComponentState(name, ComponentState.Status.STARTING, "", clock.millis())) != null) {
            throw new IllegalStateException("a component named '" + name + "' is already registered");
        }
        publish(new ComponentEvent(name, ComponentState.Status.STARTING, ""));
        return new Registration(name);
    }

    /** Every registered component, by name. */
    public List<ComponentState> components() {
        List<ComponentState> list = new ArrayList<>(components.values());
        list.sort(Comparator.comparing(ComponentState::name));
        return list;
    }

    /** True when every registered component is ready. */
    public boolean allReady() {
        return components.values().stream().allMatch(c -> c.status() == ComponentState.Status.READY);
    }

    public void publish(HubEvent event) {
        published.increment();
        for (Sub sub : subscriptions) {
            if (sub.pattern.matches(event.key())) {
                sub.queue.push(event);
            }
        }
    }

    /**
     * Calls {@code consumer} with every event whose key matches {@code pattern}, on a virtual thread of its own.
     * At most {@code capacity} events wait for it; beyond that the oldest are dropped and counted.
     */
    public Subscription subscribe(RoutingPattern pattern, int capacity, Consumer<HubEvent> consumer) {
        Sub sub = new Sub(pattern, new LatestQueue<>(capacity));
        subscriptions.add(sub);
        sub.thread = Thread.ofVirtual().name("hub-" + pattern.value()).start(() -> {
            List<HubEvent> batch = new ArrayList<>();
            while (true) {
                try {
                    if (sub.queue.drainTo(batch, 256, 1_000) < 0) {
                        return;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                for (HubEvent e : batch) {
                    try {
                        consumer.accept(e);
                    } catch (RuntimeException ex) {
                        log.warn("hub subscriber pattern={} failed on event={}: {}", pattern, e.key(), ex.toString(), ex);
                    }
                }
                batch.clear();
            }
        });
        return sub;
    }

    public long publishedCount() {
        return published.sum();
    }

    @Override
    public void close() {
        for (Sub sub : subscriptions) {
            sub.close();
        }
    }

    /** A component's handle for reporting its state. */
    public final class Registration {
        private final String name;

        private Registration(String name) {
            this.name = name;
        }

        public void ready() {
            set(ComponentState.Status.READY, "");
        }

        public void failed(String reason) {
            set(ComponentState.Status.FAILED, reason);
        }

        public void stopped() {
            set(ComponentState.Status.STOPPED, "");
        }

        private void set(ComponentState.Status status, String detail) {
            components.put(name, new ComponentState(name, status, detail, clock.millis()));
            log.info("component={} status={}{}", name, status, detail.isEmpty() ? "" : " detail=" + detail);
            publish(new ComponentEvent(name, status, detail));
        }
    }

    /** A standing subscription; closing it stops the calls. */
    public interface Subscription extends AutoCloseable {
        /** Events dropped because the subscriber fell behind. */
        long dropped();

        @Override
        void close();
    }

    private final class Sub implements Subscription {
        final RoutingPattern pattern;
        final LatestQueue<HubEvent> queue;
        Thread thread;

        Sub(RoutingPattern pattern, LatestQueue<HubEvent> queue) {
            this.pattern = pattern;
            this.queue = queue;
        }

        @Override
        public long dropped() {
            return queue.dropped();
        }

        @Override
        public void close() {
            subscriptions.remove(this);
            queue.close();
        }
    }
}
