package io.junction.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;

/** A Junction server in a child JVM, for tests that kill it with SIGKILL or stop it with SIGTERM. */
public final class ServerProcess {

    private ServerProcess() {
    }

    /**
     * Writes {@code <dir>/junction.toml} for a child server: MQTT (anonymous) and HTTP on the given ports of 127.0.0.1,
     * the data in {@code <dir>/data} with the given {@code fsync}, then {@code extra} TOML. The admin's password comes
     * from the environment the child inherits ({@code JUNCTION_ADMIN_PASSWORD}, set for tests in the parent POM).
     */
    public static Path writeConfig(Path dir, int mqtt, int http, String fsync, String extra) throws IOException {
        Path config = dir.resolve("junction.toml");
        Files.writeString(config, """
                [mqtt]
                host = "127.0.0.1"
                port = %d
                anonymous = true
                [http]
                host = "127.0.0.1"
                port = %d
                [data]
                dir = "%s"
                fsync = "%s"
                %s
                %s
                """.formatted(mqtt, http, Clients.tomlPath(dir.resolve("data")), fsync, extra, EngineProfile.toml(dir, extra)));
        return config;
    }

    /** Starts {@code junction run --config config} on this test's class path, its output going to {@code log}. */
    public static Process start(Path config, Path log) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), "io.junction.server.Main", "run", "--config", config.toString());
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits (up to a minute) until {@code GET /api/health} answers 200; fails with the server's log otherwise. */
    public static void awaitHealthy(int http, Process server, Path log) {
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (!server.isAlive()) {
                    throw new AssertionError("the server exited: " + read(log));
                }
                try {
                    return Clients.get(http, "/api/health").status() == 200;
                } catch (IOException e) {
                    return false;
                }
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("the server did not become healthy; its log: " + read(log), e);
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
