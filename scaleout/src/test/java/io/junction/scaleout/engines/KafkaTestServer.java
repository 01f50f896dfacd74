package io.junction.scaleout.engines;

import io.junction.core.testing.Tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The real Kafka that tests use: {@code JUNCTION_TEST_KAFKA_BOOTSTRAP} when set, else one broker per test JVM started
 * as a child JVM ({@link KafkaServer}) on first use, in a temp directory removed at exit. Tests that stop, kill or
 * restart a broker start a private one with {@link #startPrivate()}. When the broker's classpath is not built the test
 * is skipped with what to run (or fails under CI).
 */
public final class KafkaTestServer {

    private static KafkaServer shared;

    private KafkaTestServer() {
    }

    /** {@code host:port} of the broker tests share: the external one when {@code JUNCTION_TEST_KAFKA_BOOTSTRAP} is set. */
    public static String bootstrap() {
        String external = System.getenv("JUNCTION_TEST_KAFKA_BOOTSTRAP");
        if (external != null && !external.isBlank()) {
            return external.trim();
        }
        return shared().bootstrap();
    }

    /** The broker started by this test JVM and shared by its tests (never stop or kill it: use {@link #startPrivate()}). */
    public static synchronized KafkaServer shared() {
        if (shared == null) {
            shared = startPrivate();
        }
        return shared;
    }

    /** A broker of the caller's own, on free ports in a temp directory; it is killed and removed when the JVM exits. */
    public static KafkaServer startPrivate() {
        Path dir;
        try {
            dir = Files.createTempDirectory("junction-kafka");
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a temp directory for kafka: " + e.getMessage(), e);
        }
        int port = Tools.freePort();
        int controllerPort = Tools.freePort();
        while (controllerPort == port) {
            controllerPort = Tools.freePort();
        }
        KafkaServer server;
        try {
            server = KafkaServer.start(dir, port, controllerPort);
        } catch (NoSuchFileException e) {
            delete(dir);
            return Tools.missing(e.getMessage());
        } catch (IOException e) {
            throw new IllegalStateException("cannot start kafka for the tests: " + e.getMessage(), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.kill();
            delete(dir);
        }, "kafka-test-server-cleanup"));
        return server;
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp directory left behind
        }
    }
}
