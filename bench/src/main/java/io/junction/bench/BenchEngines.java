package io.junction.bench;

import io.junction.scaleout.engines.KafkaServer;
import io.junction.scaleout.engines.PostgresServer;
import io.junction.scaleout.engines.RedisServer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The engines of one {@link EngineSetup}, started by the bench for one run on free loopback ports in a temporary
 * directory, as {@code ./junction engines up} starts them for users (Kafka as a child JVM with {@code -Xmx512m},
 * Redis with its append-only file synced every second, PostgreSQL with {@code fsync} on), and the config sections
 * that put the server's ports on them. {@link #close()} stops them and deletes the directory.
 */
final class BenchEngines implements AutoCloseable {

    private final EngineSetup setup;
    private final Path dir;
    private KafkaServer kafka;
    private RedisServer redis;
    private PostgresServer postgres;

    private BenchEngines(EngineSetup setup, Path dir) {
        this.setup = setup;
        this.dir = dir;
    }

    /** Starts the engines {@code setup} selects (none for {@link EngineSetup#EMBEDDED}); stops those started on failure. */
    static BenchEngines start(EngineSetup setup, PrintStream out) throws IOException {
        if (setup.isEmbedded()) {
            return new BenchEngines(setup, null);
        }
        // Open to other users: PostgreSQL runs as 'postgres' when the bench runs as root and must reach its folder.
        Path dir = Files.createTempDirectory("junction-bench-engines",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        BenchEngines e = new BenchEngines(setup, dir);
        Set<Integer> taken = new HashSet<>();
        try {
            if (setup.kafka()) {
                long t = System.nanoTime();
                e.kafka = KafkaServer.start(dir.resolve("kafka"), port(taken), port(taken));
                out.printf(Locale.ROOT, "  kafka ready in %.1f s (%s, pid %d)%n", (System.nanoTime() - t) / 1e9,
                        e.kafka.bootstrap(), e.kafka.pid());
            }
            if (setup.redis()) {
                e.redis = RedisServer.start(dir.resolve("redis"), port(taken), true);
                out.printf(Locale.ROOT, "  redis ready (%s, pid %d)%n", e.redis.url(), e.redis.pid());
            }
            if (setup.postgres()) {
                long t = System.nanoTime();
                e.postgres = PostgresServer.start(dir.resolve("postgres"), port(taken));
                out.printf(Locale.ROOT, "  postgres ready in %.1f s (%s, pid %d)%n", (System.nanoTime() - t) / 1e9,
                        e.postgres.url(), e.postgres.pid());
            }
        } catch (IOException | RuntimeException failure) {
            e.close();
            throw failure;
        }
        return e;
    }

    private static int port(Set<Integer> taken) {
        int p = Net.freePort();
        while (!taken.add(p)) {
            p = Net.freePort();
        }
        return p;
    }

    EngineSetup setup() {
        return setup;
    }

    /** Where the engines keep their data for the run; null for the embedded setup. */
    Path dir() {
        return dir;
    }

    /**
     * The sections that put each port on its engine or, for those this setup leaves embedded, on the embedded store
     * (so a {@code --junction-config} that names engines does not blur the comparison): {@code {section, line...}}
     * for {@link JunctionServer#mergeConfig}.
     */
    List<String[]> configSections() {
        List<String[]> s = new ArrayList<>();
        s.add(new String[]{"streams", "engine = \"" + (kafka != null ? "kafka" : "embedded") + "\""});
        s.add(new String[]{"status", "engine = \"" + (redis != null ? "redis" : "embedded") + "\""});
        s.add(new String[]{"state", "engine = \"" + (postgres != null ? "postgres" : "embedded") + "\""});
        if (kafka != null) {
            s.add(new String[]{"kafka", "bootstrap = \"" + kafka.bootstrap() + "\""});
        }
        if (redis != null) {
            s.add(new String[]{"redis", "url = \"" + redis.url() + "\""});
        }
        if (postgres != null) {
            // The password is random (base64url, nothing to escape) and the config lies in the server's 0700 temp dir.
            s.add(new String[]{"postgres", "url = \"" + postgres.url() + "\"", "user = \"" + postgres.user() + "\"",
                    "password = \"" + postgres.password() + "\""});
        }
        return s;
    }

    /** The engines' processes, for CPU and memory: PostgreSQL with its backends (one process per connection). */
    List<Usage.Proc> processes() {
        List<Usage.Proc> p = new ArrayList<>();
        if (kafka != null) {
            p.add(new Usage.Proc("kafka", kafka.pid(), false));
        }
        if (redis != null) {
            p.add(new Usage.Proc("redis", redis.pid(), false));
        }
        if (postgres != null) {
            p.add(new Usage.Proc("postgres", postgres.pid(), true));
        }
        return p;
    }

    /** Stops the engines (each one even when another fails to stop) and deletes their directory. */
    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>();
        all.add(postgres);
        all.add(redis);
        all.add(kafka);
        for (AutoCloseable c : all) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                System.err.println("bench: stopping " + c + " failed: " + e);
            }
        }
        postgres = null;
        redis = null;
        kafka = null;
        if (dir != null) {
            Net.deleteTree(dir);
        }
    }
}
