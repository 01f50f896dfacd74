package io.junction.scaleout.engines;

import io.junction.core.testing.Tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The PostgreSQL server tests share: {@code JUNCTION_TEST_PG_URL} (with {@code JUNCTION_TEST_PG_USER} and
 * {@code JUNCTION_TEST_PG_PASSWORD}) when set, else one {@link PostgresServer#startForTests} in a temp directory per
 * test JVM, stopped and removed at exit. Without PostgreSQL the test is skipped with what to install (failed under
 * CI). Tests keep apart through {@link #freshSchemaUrl()}.
 */
public final class PostgresTestServer {

    private static final AtomicInteger SCHEMAS = new AtomicInteger();

    private PostgresTestServer() {
    }

    private record Target(String url, String user, String password) {
    }

    /** Started on first use; the class holder makes that once per JVM. */
    private static final class Shared {
        static final Target TARGET = start();

        private static Target start() {
            String external = System.getenv("JUNCTION_TEST_PG_URL");
            if (external != null && !external.isBlank()) {
                return new Target(external, System.getenv().getOrDefault("JUNCTION_TEST_PG_USER", "postgres"),
                        System.getenv().getOrDefault("JUNCTION_TEST_PG_PASSWORD", ""));
            }
            try {
                Path dir = Files.createTempDirectory("junction-pg");
                PostgresServer server = PostgresServer.startForTests(dir, Tools.freePort());
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    server.stop();
                    delete(dir);
                }, "postgres-test-cleanup"));
                return new Target(server.url(), server.user(), server.password());
            } catch (IOException e) {
                throw new IllegalStateException("cannot start PostgreSQL for the tests: " + e.getMessage(), e);
            }
        }
    }

    private static Target target() {
        String external = System.getenv("JUNCTION_TEST_PG_URL");
        if ((external == null || external.isBlank()) && !PostgresServer.installed()) {
            return Tools.missing("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/<version>/bin): install it "
                    + "with 'apt-get install postgresql', or point JUNCTION_TEST_PG_URL at a server");
        }
        return Shared.TARGET;
    }

    /** The JDBC URL of the shared server's database. */
    public static String url() {
        return target().url();
    }

    public static String user() {
        return target().user();
    }

    public static String password() {
        return target().password();
    }

    /** A new, empty schema on the shared server; the returned URL makes it the connection's current schema. */
    public static String freshSchemaUrl() {
        Target t = target();
        String schema = "t" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
        try (Connection c = DriverManager.getConnection(t.url(), t.user(), t.password()); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create schema " + schema + " on " + t.url() + ": " + e.getMessage(), e);
        }
        return t.url() + (t.url().contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    /** Removes a test's folder, as far as it can. */
    public static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp dir left behind
        }
    }
}
