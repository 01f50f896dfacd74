package io.junction.scaleout.redis;

import redis.clients.jedis.Jedis;

/** Asks a Redis whether it answers, on the same connection settings as the stores (RESP2, timeouts, login, database). */
public final class RedisProbe {

    private RedisProbe() {
    }

    /** Sends {@code PING} to the Redis at {@code url}; returns its answer, or throws with the client's reason. */
    public static String ping(String url) {
        RedisEndpoint endpoint = RedisEndpoint.parse(url);
        try (Jedis jedis = new Jedis(endpoint.hostAndPort(), endpoint.clientConfig("junction-probe"))) {
            return jedis.ping();
        }
    }
}
