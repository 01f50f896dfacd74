package io.junction.server;

import io.junction.scaleout.engines.KafkaTestServer;
import io.junction.scaleout.engines.PostgresTestServer;
import io.junction.scaleout.engines.RedisTestServer;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The engines the end-to-end tests run on. Without the system property {@code junction.test.engines} every port is
 * embedded (the default of a server); with it — the server module's second surefire execution sets
 * {@code kafka,redis,postgres} — the configs that {@link Clients#config} and {@link ServerProcess#writeConfig} write
 * also select those engines, started once per test JVM. So the same end-to-end tests prove the same behaviour on
 * both, without a copy of them.
 *
 * <p>Each data directory gets its own namespace on the engines — Kafka topics, a Redis database, a PostgreSQL schema —
 * kept for the directory, so a test that restarts a server on the same directory finds what it left there.
 */
public final class EngineProfile {

    private static final Set<String> SELECTED = Arrays.stream(System.getProperty("junction.test.engines", "").split(","))
            .map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
    private static final Map<Path, String> SECTIONS = new ConcurrentHashMap<>();
    private static final AtomicInteger NAMESPACES = new AtomicInteger();

    static {
        for (String engine : SELECTED) {
            if (!Set.of("kafka", "redis", "postgres").contains(engine)) {
                throw new IllegalStateException("junction.test.engines: unknown engine '" + engine
                        + "'; use a comma-separated list of kafka, redis, postgres");
            }
        }
    }

    private EngineProfile() {
    }

    /** Whether {@code engine} ({@code kafka}, {@code redis}, {@code postgres}) is selected for this test run. */
    public static boolean selected(String engine) {
        return SELECTED.contains(engine);
    }

    /** The engine sections of a server whose data lives in {@code dataDir}; empty when every port is embedded. */
    public static String toml(Path dataDir) {
        return toml(dataDir, "");
    }

    /**
     * As {@link #toml(Path)}, leaving out the ports whose engine {@code extra} (the rest of the test's config) chooses
     * itself: a test of one engine's behaviour keeps its own choice in either run.
     */
    public static String toml(Path dataDir, String extra) {
        if (SELECTED.isEmpty()) {
            return "";
        }
        Set<String> own = Set.of("streams", "status", "state", "kafka", "redis", "postgres").stream()
                .filter(section -> extra.contains("[" + section + "]")).collect(Collectors.toUnmodifiableSet());
        return SECTIONS.computeIfAbsent(dataDir.toAbsolutePath().normalize(), d -> sections(own));
    }

    private static String sections(Set<String> own) {
        StringBuilder toml = new StringBuilder("\n");
        String ns = "e2e" + ProcessHandle.current().pid() + "-" + NAMESPACES.incrementAndGet();
        if (selected("kafka") && !own.contains("streams") && !own.contains("kafka")) {
            toml.append("""
                    [streams]
                    engine = "kafka"
                    [kafka]
                    bootstrap = "%s"
                    raw_topic = "%s.raw"
                    processed_topic = "%s.processed"
                    """.formatted(KafkaTestServer.bootstrap(), ns, ns));
        }
        if (selected("redis") && !own.contains("status") && !own.contains("redis")) {
            toml.append("""
                    [status]
                    engine = "redis"
                    [redis]
                    url = "%s"
                    """.formatted(RedisTestServer.freshUrl()));
        }
        if (selected("postgres") && !own.contains("state") && !own.contains("postgres")) {
            toml.append("""
                    [state]
                    engine = "postgres"
                    [postgres]
                    url = "%s"
                    user = "%s"
                    password = "%s"
                    pool = 4
                    """.formatted(PostgresTestServer.freshSchemaUrl(), PostgresTestServer.user(), PostgresTestServer.password()));
        }
        return toml.toString();
    }
}
