package io.junction.scaleout.redis;

import io.junction.scaleout.EngineHealth;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * One Redis as a store uses it: a pool of connections for commands (Jedis, thread-safe), a watcher that PINGs every
 * second and reports the engine's health, and the rule for a command that meets a broken connection.
 *
 * <p>That rule: the pool is emptied (after a Redis restart every idle connection is dead, and each would fail one
 * command) and the command is tried once more. Every command the stores send is idempotent in its effect (a write
 * sets, deletes or replaces to a given value), so running it twice leaves Redis as running it once; only a
 * {@code set}'s "changed" answer may then say false for a change the first attempt made. When the second attempt
 * fails too, the engine is reported down and the call throws {@link IllegalStateException} naming Redis and what
 * failed; nothing is queued for later.
 */
final class RedisLink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisLink.class);
    static final Duration WATCH_INTERVAL = Duration.ofSeconds(1);
    private static final int POOL_SIZE = 16;

    final RedisEndpoint endpoint;
    private final EngineHealth health;
    private final RedisClient client;
    private final AtomicBoolean down = new AtomicBoolean();
    private final List<Runnable> downHooks = new CopyOnWriteArrayList<>();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread watcher;

    private RedisLink(RedisEndpoint endpoint, EngineHealth health, RedisClient client) {
        this.endpoint = endpoint;
        this.health = health;
        this.client = client;
        this.watcher = Thread.ofVirtual().name("redis-watch-" + endpoint.address()).unstarted(this::watch);
    }

    /**
     * Connects to {@code url} and checks that Redis answers PING within {@link RedisEndpoint#TIMEOUT_MILLIS};
     * otherwise throws {@link IllegalStateException} ({@code redis at host:port does not answer: ...}).
     */
    static RedisLink open(String url, EngineHealth health, String clientName) {
        RedisEndpoint endpoint = RedisEndpoint.parse(url);
        ConnectionPoolConfig pool = new ConnectionPoolConfig();
        pool.setMaxTotal(POOL_SIZE);
        pool.setMaxIdle(POOL_SIZE);
        pool.setMinIdle(0);
        pool.setBlockWhenExhausted(true);
        pool.setMaxWait(Duration.ofMillis(RedisEndpoint.TIMEOUT_MILLIS));
        pool.setJmxEnabled(false);
        RedisClient client = RedisClient.builder().hostAndPort(endpoint.hostAndPort())
                .clientConfig(endpoint.clientConfig(clientName)).poolConfig(pool).build();
        try {
            client.ping();
        } catch (JedisDataException e) {
            client.close();
            String m = describe(e);
            boolean login = e instanceof JedisAccessControlException || m.contains("NOAUTH") || m.contains("WRONGPASS");
            throw new IllegalStateException("redis at " + endpoint.address() + (login ? " refused the login: " : " answered with an error: ")
                    + m, e);
        } catch (JedisException e) {
            client.close();
            throw new IllegalStateException("redis at " + endpoint.address() + " does not answer: " + describe(e), e);
        }
        health.up();
        RedisLink link = new RedisLink(endpoint, health, client);
        link.watcher.start();
        return link;
    }

    /** {@code host:port}. */
    String address() {
        return endpoint.address();
    }

    /** Runs {@code hook} (it must be quick) each time Redis is found gone, by the watcher or by a failed command. */
    void onDown(Runnable hook) {
        downHooks.add(hook);
    }

    /**
     * Runs {@code command} on a pooled connection, retrying once on a broken connection (see the class comment);
     * {@code what} names it in the error.
     */
    <T> T call(String what, Function<UnifiedJedis, T> command) {
        try {
            return command.apply(client);
        } catch (JedisConnectionException first) {
            client.getPool().clear();
            try {
                return command.apply(client);
            } catch (JedisConnectionException e) {
                reportDown(e);
                throw failure(what, e);
            } catch (JedisException e) {
                throw failure(what, e);
            }
        } catch (JedisException e) {
            throw failure(what, e);
        }
    }

    private IllegalStateException failure(String what, JedisException e) {
        return new IllegalStateException("redis at " + address() + ": " + what + " failed: " + describe(e), e);
    }

    @Override
    public void close() {
        stop.countDown();
        try {
            watcher.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
    }

    private void watch() {
        // A connection of its own: a pool busy with writers must not look like Redis gone.
        Jedis probe = null;
        while (true) {
            try {
                if (stop.await(WATCH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                break;
            }
            try {
                if (probe == null) {
                    probe = new Jedis(endpoint.hostAndPort(), endpoint.clientConfig("junction-watch"));
                }
                probe.ping();
                if (down.compareAndSet(true, false)) {
                    // Connections made before the outage are dead; drop them rather than fail a command on each.
                    client.getPool().clear();
                    log.info("redis up at={}", address());
                    health.up();
                }
            } catch (JedisException e) {
                // Broken, refused, timed out, or an error answer (loading its data after a restart, a changed password).
                if (probe != null) {
                    probe.close();
                    probe = null;
                }
                reportDown(e);
            } catch (RuntimeException e) {
                log.warn("redis watcher at={} failed: {}", address(), e.toString(), e);
            }
        }
        if (probe != null) {
            probe.close();
        }
    }

    private void reportDown(JedisException e) {
        if (down.compareAndSet(false, true)) {
            String reason = "redis at " + address() + ": " + describe(e);
            log.warn("redis down at={} reason=\"{}\"", address(), describe(e));
            health.down(reason);
            for (Runnable hook : downHooks) {
                try {
                    hook.run();
                } catch (RuntimeException ex) {
                    log.warn("redis down hook at={} failed: {}", address(), ex.toString(), ex);
                }
            }
        }
    }

    /** The messages of an exception and its causes, without repeats: Jedis wraps the socket's reason. */
    static String describe(Throwable e) {
        Set<String> parts = new LinkedHashSet<>();
        for (Throwable t = e; t != null && parts.size() < 4; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && !m.isBlank() && parts.stream().noneMatch(p -> p.contains(m))) {
                parts.add(m);
            }
        }
        return parts.isEmpty() ? e.getClass().getSimpleName() : String.join(": ", parts);
    }
}
