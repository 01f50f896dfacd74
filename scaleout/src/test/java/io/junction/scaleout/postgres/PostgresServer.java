package io.junction.scaleout.postgres;

import io.junction.core.testing.Tools;


import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server for tests: {@code JUNCTION_TEST_PG_URL} (with {@code JUNCTION_TEST_PG_USER} and
 * {@code JUNCTION_TEST_PG_PASSWORD}) when set, else a throwaway PostgreSQL 15 cluster from Debian's binaries
 * ({@code /usr/lib/postgresql/15/bin}) on a free port in a temp directory, started once per test JVM and removed at
 * exit. PostgreSQL refuses to run as root, so as root it runs as the {@code postgres} user (or {@code nobody}). Without
 * the binaries the test is skipped with what to install, or fails under CI.
 */
final class PostgresServer {

    private static final String[] BIN_DIRS = {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"};
    private static final AtomicInteger SCHEMAS = new AtomicInteger();
    private static PostgresServer instance;

    final String url;
    final String user;
    final String password;

    private PostgresServer(String url, String user, String password) {
        this.url = url;
        this.user = user;
        this.password = password;
    }

    /** The shared server, started on first use. */
    static synchronized PostgresServer get() {
        if (instance == null) {
            String external = System.getenv("JUNCTION_TEST_PG_URL");
            instance = external != null && !external.isBlank()
                    ? new PostgresServer(external, System.getenv().getOrDefault("JUNCTION_TEST_PG_USER", "postgres"),
                    System.getenv().getOrDefault("JUNCTION_TEST_PG_PASSWORD", ""))
                    : startLocal();
        }
        return instance;
    }

    /** A fresh, empty schema; the returned URL makes it the connection's current schema. */
    String freshSchemaUrl() {
        String schema = "t" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create schema " + schema + " on " + url + ": " + e.getMessage(), e);
        }
        return url + (url.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    private static String binaries() {
        for (String dir : BIN_DIRS) {
            if (Files.isExecutable(Path.of(dir, "initdb")) && Files.isExecutable(Path.of(dir, "postgres"))) {
                return dir;
            }
        }
        return Tools.missing("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/15/bin): install it with "
                + "'apt-get install postgresql', or point JUNCTION_TEST_PG_URL at a server");
    }

    private static PostgresServer startLocal() {
        String bin = binaries();
        try {
            boolean root = "root".equals(System.getProperty("user.name"));
            String runAs = root ? (userExists("postgres") ? "postgres" : "nobody") : null;
            Path dir = Files.createTempDirectory("junction-pg");
            Path data = dir.resolve("data");
            Path socket = dir.resolve("sock");
            Files.createDirectories(socket);
            if (runAs != null) {
                run(List.of("chown", "-R", runAs, dir.toString()), null, 30);
                run(List.of("chmod", "755", dir.toString()), null, 30);
            }
            run(List.of(bin + "/initdb", "-D", data.toString(), "-A", "trust", "-U", "junction", "-E", "UTF8",
                    "--no-sync", "--no-instructions"), runAs, 120);
            int port = Tools.freePort();
            List<String> cmd = asUser(List.of(bin + "/postgres", "-D", data.toString(), "-p", String.valueOf(port),
                    "-k", socket.toString(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100"), runAs);
            Process server = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("postgres.log").toFile()).start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(server, dir)));
            String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try (Connection c = DriverManager.getConnection(url, "junction", "")) {
                    return new PostgresServer(url, "junction", "");
                } catch (SQLException e) {
                    if (!server.isAlive() || System.nanoTime() > deadline) {
                        throw new IllegalStateException("PostgreSQL did not start: "
                                + Files.readString(dir.resolve("postgres.log"), StandardCharsets.UTF_8), e);
                    }
                    Thread.sleep(100);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot start PostgreSQL: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting PostgreSQL", e);
        }
    }

    private static boolean userExists(String name) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("id", "-u", name).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    private static List<String> asUser(List<String> cmd, String user) {
        if (user == null) {
            return cmd;
        }
        List<String> out = new ArrayList<>(List.of("runuser", "-u", user, "--"));
        out.addAll(cmd);
        return out;
    }

    private static void run(List<String> cmd, String user, int seconds) throws IOException, InterruptedException {
        List<String> full = asUser(cmd, user);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", full) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
    }

    private static void stop(Process server, Path dir) {
        server.destroy();
        try {
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.destroyForcibly();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp dir left behind
        }
    }
}
