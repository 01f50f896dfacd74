package io.junction.scaleout.redis;

import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisProtocol;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;

/**
 * Where a Redis is and how to log in, read from {@code redis://[user:password@]host[:port][/db]}. {@link #address()}
 * ({@code host:port}) is what messages show: the password never appears in one.
 */
record RedisEndpoint(String host, int port, Optional<String> user, Optional<String> password, int database) {

    static final int DEFAULT_PORT = 6379;
    /** Connect and read timeout of every connection: how soon an engine that went away is noticed by a command. */
    static final int TIMEOUT_MILLIS = 2000;

    /** Reads {@code url}; throws {@link IllegalArgumentException} saying what is wrong and what is expected. */
    static RedisEndpoint parse(String url) {
        String expected = "; expected redis://[user:password@]host[:port][/db], as in redis://127.0.0.1:6379/0";
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("the redis url is empty" + expected);
        }
        if (!url.contains("://")) {
            throw new IllegalArgumentException("the redis url must start with redis://" + expected);
        }
        URI uri;
        try {
            uri = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("the redis url is not a URL (" + e.getReason() + ")" + expected, e);
        }
        if (!"redis".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("the redis url must start with redis:// (TLS is not supported), got "
                    + (uri.getScheme() == null ? "no scheme" : uri.getScheme() + "://") + expected);
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("the redis url names no host" + expected);
        }
        if (uri.getQuery() != null || uri.getFragment() != null) {
            throw new IllegalArgumentException("the redis url takes no '?' parameters or '#' part" + expected);
        }
        int port = uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort();
        int database = 0;
        String path = uri.getPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            String db = path.substring(1);
            if (!db.chars().allMatch(Character::isDigit) || db.length() > 5) {
                throw new IllegalArgumentException("the redis url's database '" + db + "' must be a number from 0" + expected);
            }
            database = Integer.parseInt(db);
        }
        Optional<String> user = Optional.empty();
        Optional<String> password = Optional.empty();
        String info = uri.getUserInfo();
        if (info != null && !info.isEmpty()) {
            int cut = info.indexOf(':');
            if (cut < 0) {
                password = Optional.of(info);
            } else {
                user = cut == 0 ? Optional.empty() : Optional.of(info.substring(0, cut));
                password = Optional.of(info.substring(cut + 1)).filter(p -> !p.isEmpty());
            }
        }
        return new RedisEndpoint(host, port, user, password, database);
    }

    /** {@code host:port}, for messages. */
    String address() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    HostAndPort hostAndPort() {
        return new HostAndPort(host, port);
    }

    /** Never shows the password. */
    @Override
    public String toString() {
        return "redis://" + address() + "/" + database;
    }

    /**
     * The settings of every connection. RESP2, as PlaceOS speaks it: published messages arrive on the subscriber as
     * plain replies (Jedis 8 mishandles some RESP3 replies on a subscribed connection).
     */
    JedisClientConfig clientConfig(String clientName) {
        DefaultJedisClientConfig.Builder b = DefaultJedisClientConfig.builder()
                .protocol(RedisProtocol.RESP2)
                .connectionTimeoutMillis(TIMEOUT_MILLIS)
                .socketTimeoutMillis(TIMEOUT_MILLIS)
                .database(database)
                .clientName(clientName)
                .clientSetInfoConfig(ClientSetInfoConfig.DISABLED);
        user.ifPresent(b::user);
        password.ifPresent(b::password);
        return b.build();
    }
}
