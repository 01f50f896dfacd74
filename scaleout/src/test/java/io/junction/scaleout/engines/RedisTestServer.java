package io.junction.scaleout.engines;

import io.junction.core.testing.Tools;

import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The Redis of a test JVM: {@code JUNCTION_TEST_REDIS_URL} when set, else a {@code redis-server} from Debian started on
 * a free port on first use (with 256 databases, without persistence) and stopped and removed at exit. Without
 * {@code redis-server} the test is skipped with what to install, or fails under CI.
 *
 * <p>PlaceOS' layout has no prefix, so tests isolate themselves by database: {@link #freshUrl()} hands out a database
 * no other test of this JVM uses, emptied. Redis' pub/sub ignores the database, so tests that run at the same time
 * should use different module and system ids. Tests that kill or restart Redis start a private {@link RedisServer}.
 */
public final class RedisTestServer {

    private static final AtomicInteger NEXT_DB = new AtomicInteger(1);
    private static String url;
    private static int databases;

    private RedisTestServer() {
    }

    /** The shared Redis, database 0: {@code redis://host:port}. */
    public static synchronized String url() {
        if (url == null) {
            String external = System.getenv("JUNCTION_TEST_REDIS_URL");
            if (external != null && !external.isBlank()) {
                url = external.trim().replaceAll("/+$", "");
                databases = countDatabases(url);
            } else {
                url = startLocal();
                databases = 256;
            }
        }
        return url;
    }

    /**
     * A database of the shared Redis that no other test of this JVM was given (database 0 is left to {@link #url()}),
     * emptied: {@code redis://host:port/<db>}. After 255 tests the numbers come round again, emptied again.
     */
    public static String freshUrl() {
        String base = url();
        if (databases < 2) {
            throw new IllegalStateException("the test Redis at " + base + " has " + databases
                    + " database; tests need at least 2 (database 0 is shared, the others are handed out one per test)");
        }
        int db = 1 + Math.floorMod(NEXT_DB.getAndIncrement() - 1, databases - 1);
        String fresh = base + "/" + db;
        try (Jedis c = new Jedis(URI.create(fresh))) {
            c.flushDB();
        }
        return fresh;
    }

    private static String startLocal() {
        try {
            Path dir = Files.createTempDirectory("junction-redis");
            RedisServer server;
            try {
                server = RedisServer.start(dir, Tools.freePort(), false, List.of("--databases", "256"));
            } catch (IOException e) {
                if (RedisServer.NOT_INSTALLED.equals(e.getMessage())) {
                    return Tools.missing(e.getMessage() + ", or point JUNCTION_TEST_REDIS_URL at a server");
                }
                throw e;
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.kill();
                delete(dir);
            }, "redis-test-server-stop"));
            return server.url();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the test Redis: " + e.getMessage(), e);
        }
    }

    /** How many databases an external Redis has (16 when it will not say). */
    private static int countDatabases(String base) {
        try (Jedis c = new Jedis(URI.create(base))) {
            return Integer.parseInt(c.configGet("databases").getOrDefault("databases", "16"));
        } catch (RuntimeException e) {
            return 16;
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp dir left behind
        }
    }
}
