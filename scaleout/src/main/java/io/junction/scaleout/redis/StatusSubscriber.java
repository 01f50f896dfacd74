package io.junction.scaleout.redis;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.JedisPubSub;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one subscriber connection of a module status store, on a thread of its own: {@code PSUBSCRIBE status/*} and
 * {@code SUBSCRIBE lookup-change}, every message handed to the {@link Sink} in the order Redis sent it. When the
 * connection breaks it reconnects by itself (100 ms, doubling to 1 s between attempts) and subscribes again; what was
 * published in between is not heard, which the sink is told.
 */
final class StatusSubscriber implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StatusSubscriber.class);
    static final String STATUS_PATTERN = "status/*";
    static final String LOOKUP_CHANGE = "lookup-change";
    private static final long MAX_BACKOFF_MILLIS = 1000;

    /** Where messages go; called on the subscriber's thread, so it must not block for long. */
    interface Sink {
        /** A message on {@code channel} (a {@code status/...} channel or {@code lookup-change}). */
        void message(String channel, String payload);

        /** Both subscriptions are acknowledged; {@code again} after a reconnection (messages may have been missed). */
        void subscribed(boolean again);

        /** The connection broke: nothing is heard until {@link #subscribed} again. */
        void lost(String reason);
    }

    private final RedisEndpoint endpoint;
    private final Sink sink;
    private final Thread thread;
    /** Completed while both subscriptions are acknowledged; replaced by an open one when the connection breaks. */
    private volatile CompletableFuture<Void> live = new CompletableFuture<>();
    private volatile Connection connection;
    private volatile boolean closed;
    private boolean subscribedBefore;

    StatusSubscriber(RedisEndpoint endpoint, Sink sink) {
        this.endpoint = endpoint;
        this.sink = sink;
        this.thread = Thread.ofVirtual().name("redis-subscriber-" + endpoint.address()).unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    /** Whether the subscriptions are acknowledged now. */
    boolean live() {
        return live.isDone();
    }

    boolean onSubscriberThread() {
        return Thread.currentThread() == thread;
    }

    /** Waits until both subscriptions are acknowledged; false when that took longer than {@code wait}. */
    boolean awaitLive(Duration wait) {
        try {
            live.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Breaks the current connection (the watcher found Redis gone): the thread reconnects once it can. */
    void drop() {
        Connection c = connection;
        if (c != null) {
            c.disconnect();
        }
    }

    @Override
    public void close() {
        closed = true;
        drop();
        if (thread.isAlive() && !onSubscriberThread()) {
            thread.interrupt();
            try {
                thread.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        long backoff = 0;
        while (!closed) {
            Connection c = null;
            String lost = null;
            try {
                c = new Connection(endpoint.hostAndPort(), endpoint.clientConfig("junction-status-subscriber"));
                connection = c;
                if (!closed) {
                    // Returns only once everything is unsubscribed, which this class never asks for.
                    new Channels().proceedWithPatterns(c, STATUS_PATTERN);
                }
            } catch (RuntimeException e) {
                // JedisException when the connection breaks; anything else from the sink must not end the thread either.
                lost = RedisLink.describe(e);
            } finally {
                connection = null;
                if (c != null) {
                    c.close();
                }
            }
            boolean wasLive = live.isDone();
            if (wasLive) {
                live = new CompletableFuture<>();
            }
            if (closed) {
                break;
            }
            if (wasLive) {
                log.warn("redis subscriber lost at={} reason=\"{}\"; reconnecting", endpoint.address(), lost);
            } else {
                log.debug("redis subscriber cannot subscribe at={} reason=\"{}\"", endpoint.address(), lost);
            }
            // After the switch to not-live, so that no writer starts waiting for an echo that will not come.
            sink.lost(String.valueOf(lost));
            backoff = wasLive ? 100 : Math.min(Math.max(100, backoff * 2), MAX_BACKOFF_MILLIS);
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                // close() interrupts; the loop condition decides
            }
        }
        log.debug("redis subscriber stopped at={}", endpoint.address());
    }

    /** Both subscriptions on one connection; the {@code lookup-change} one is asked for once the pattern is acknowledged. */
    private final class Channels extends JedisPubSub {

        @Override
        public void onPSubscribe(String pattern, int subscribedChannels) {
            subscribe(LOOKUP_CHANGE);
        }

        @Override
        public void onSubscribe(String channel, int subscribedChannels) {
            boolean again = subscribedBefore;
            subscribedBefore = true;
            live.complete(null);
            if (again) {
                log.info("redis subscriber resubscribed at={}", endpoint.address());
            }
            sink.subscribed(again);
        }

        @Override
        public void onPMessage(String pattern, String channel, String message) {
            sink.message(channel, message);
        }

        @Override
        public void onMessage(String channel, String message) {
            sink.message(channel, message);
        }
    }
}
