package io.junction.scaleout.redis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Writers waiting until their store's own subscriber has handed what they published to the listeners: how a write
 * returns only after this node's listeners heard it, as the embedded store does. A writer registers the (channel,
 * payload) it is about to publish before it writes, so the message cannot slip past; any message with the same channel
 * and payload releases it (its listeners then heard that very value). There is one entry per write in progress, so
 * the map is as small as the number of threads writing.
 */
final class Echoes {

    /** One writer's wait. */
    record Echo(String key, CountDownLatch heard) {
    }

    private final ConcurrentHashMap<String, List<CountDownLatch>> waiting = new ConcurrentHashMap<>();

    /** Registers a wait for {@code payload} on {@code channel}; call before writing. */
    Echo expect(String channel, String payload) {
        Echo echo = new Echo(key(channel, payload), new CountDownLatch(1));
        waiting.compute(echo.key(), (k, list) -> {
            List<CountDownLatch> next = list == null ? new ArrayList<>(1) : new ArrayList<>(list);
            next.add(echo.heard());
            return List.copyOf(next);
        });
        return echo;
    }

    /** The subscriber dispatched {@code payload} on {@code channel}: releases whoever waits for it. */
    void heard(String channel, String payload) {
        if (waiting.isEmpty()) {
            return;
        }
        List<CountDownLatch> released = waiting.remove(key(channel, payload));
        if (released != null) {
            released.forEach(CountDownLatch::countDown);
        }
    }

    /** Waits for {@code echo} at most {@code bound}; false when it was not heard in time. Forgets it either way. */
    boolean await(Echo echo, Duration bound) {
        try {
            return echo.heard().await(bound.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            forget(echo);
        }
    }

    /** Drops a wait that will not be needed (nothing was published, or the write failed). */
    void forget(Echo echo) {
        if (echo == null) {
            return;
        }
        waiting.computeIfPresent(echo.key(), (k, list) -> {
            List<CountDownLatch> next = new ArrayList<>(list);
            next.remove(echo.heard());
            return next.isEmpty() ? null : List.copyOf(next);
        });
    }

    /** The subscriber lost its connection: nothing published now will be heard, so no one waits for it. */
    void releaseAll() {
        for (String key : List.copyOf(waiting.keySet())) {
            List<CountDownLatch> released = waiting.remove(key);
            if (released != null) {
                released.forEach(CountDownLatch::countDown);
            }
        }
    }

    private static String key(String channel, String payload) {
        return channel + '\n' + payload;
    }
}
