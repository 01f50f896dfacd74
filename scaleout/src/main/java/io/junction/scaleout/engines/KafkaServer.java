package io.junction.scaleout.engines;

import org.apache.kafka.common.Uuid;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A one-node Kafka (KRaft, broker and controller in one process) run as a child JVM from the classpath that the
 * {@code kafka-runtime} module writes ({@code kafka-runtime/target/kafka.classpath}), so Kafka's own jars never reach
 * Junction's classpath. It listens on 127.0.0.1 on ports the caller chooses and keeps its data under the caller's
 * directory, so starting it again on the same directory keeps what was written. Its output goes to
 * {@code <dir>/kafka.log}. A shutdown hook stops it when this JVM exits, so it never outlives its parent.
 */
public final class KafkaServer implements AutoCloseable {

    /** Overrides where the broker's classpath file is (otherwise found by walking up from the working directory). */
    public static final String CLASSPATH_PROPERTY = "junction.kafka.classpath";
    private static final String CLASSPATH_FILE = "kafka-runtime/target/kafka.classpath";
    private static final String BUILD_IT = "build it with 'mvn -B -q -o -pl kafka-runtime package' from the repository root";
    private static final String READY = "Transition from STARTING to STARTED";
    private static final long START_SECONDS = 60;
    private static final long FORMAT_SECONDS = 60;
    private static final long STOP_SECONDS = 20;

    private final Path dir;
    private final int port;
    private final int controllerPort;
    private final String classpath;
    private final Thread hook;
    private volatile Process process;

    private KafkaServer(Path dir, int port, int controllerPort, String classpath) {
        this.dir = dir;
        this.port = port;
        this.controllerPort = controllerPort;
        this.classpath = classpath;
        this.hook = new Thread(this::stopAtExit, "kafka-server-" + port + "-stop");
    }

    /**
     * Starts a broker with its data in {@code dir} (created if needed; storage already formatted there is reused, so a
     * restart keeps the data) listening on {@code 127.0.0.1:port}, its controller on {@code controllerPort}, and
     * returns once it serves clients. Fails with {@link NoSuchFileException} when the broker's classpath is not built
     * (the message says how to build it) and with an {@link IOException} carrying the tail of its log when it does
     * not start within 60 seconds.
     */
    public static KafkaServer start(Path dir, int port, int controllerPort) throws IOException {
        Objects.requireNonNull(dir, "dir");
        if (port <= 0 || port > 65_535 || controllerPort <= 0 || controllerPort > 65_535 || port == controllerPort) {
            throw new IllegalArgumentException("kafka needs two different TCP ports, got port=" + port
                    + " controllerPort=" + controllerPort);
        }
        KafkaServer server = new KafkaServer(dir.toAbsolutePath(), port, controllerPort, classpath());
        Runtime.getRuntime().addShutdownHook(server.hook);
        try {
            server.launch();
        } catch (IOException | RuntimeException e) {
            server.kill();
            server.removeHook();
            throw e;
        }
        return server;
    }

    /** {@code 127.0.0.1:<port>}: what clients put in {@code bootstrap.servers}. */
    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** The process id of the broker's JVM. */
    public long pid() {
        return process.pid();
    }

    /**
     * Leaves the broker running when this JVM exits (no shutdown hook stops it any more): for
     * {@code ./junction engines up}, which starts the engines and returns.
     */
    public void detach() {
        removeHook();
    }

    /** Stops the broker gracefully (SIGTERM), and kills it when it has not exited after 20 seconds. */
    public void stop() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Kills the broker at once (SIGKILL), as a crash would: for tests of what survives one. */
    public void kill() {
        Process p = process;
        if (p == null) {
            return;
        }
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the broker if it runs and starts it again on the same directory and ports; returns this server. */
    public KafkaServer restart() throws IOException {
        stop();
        launch();
        return this;
    }

    /** Stops the broker ({@link #stop()}). */
    @Override
    public void close() {
        stop();
        removeHook();
    }

    private void launch() throws IOException {
        Files.createDirectories(dir);
        Path data = dir.resolve("data");
        Path config = dir.resolve("server.properties");
        Files.writeString(config, properties(data), StandardCharsets.UTF_8);
        Path logFile = dir.resolve("kafka.log");
        if (!Files.exists(data.resolve("meta.properties"))) {
            format(config, logFile);
        }
        long from = Files.exists(logFile) ? Files.size(logFile) : 0;
        List<String> cmd = List.of(java(), "-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true", "-cp", classpath, "kafka.Kafka", config.toString());
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
        process = p;
        awaitReady(p, logFile, from);
    }

    private String properties(Path data) {
        return String.join("\n",
                "# Written by Junction's KafkaServer on every start.",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs=" + data,
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                // Junction creates its topics with the settings they need; a typo in a topic name must not create one.
                "auto.create.topics.enable=false",
                "");
    }

    /** Formats the storage for a new one-node cluster (a child JVM, so Kafka's classes stay off ours). */
    private void format(Path config, Path logFile) throws IOException {
        List<String> cmd = List.of(java(), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath,
                "kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c", config.toString(),
                "--ignore-formatted");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
        try {
            if (!p.waitFor(FORMAT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("kafka storage format in " + dir + " did not finish within " + FORMAT_SECONDS
                        + " s; its output:\n" + tail(logFile));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while formatting kafka storage in " + dir, e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("kafka storage format in " + dir + " failed (exit " + p.exitValue() + "); its output:\n"
                    + tail(logFile));
        }
    }

    /** Waits until the broker's log says it serves clients; fails with the log's tail when it exits or takes too long. */
    private void awaitReady(Process p, Path logFile, long from) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        long position = from;
        StringBuilder partial = new StringBuilder();
        while (true) {
            try (RandomAccessFile f = new RandomAccessFile(logFile.toFile(), "r")) {
                long length = f.length();
                if (length > position) {
                    byte[] chunk = new byte[(int) Math.min(length - position, 1 << 20)];
                    f.seek(position);
                    f.readFully(chunk);
                    position += chunk.length;
                    partial.append(new String(chunk, StandardCharsets.UTF_8));
                    if (partial.indexOf(READY) >= 0) {
                        return;
                    }
                    // Keep only what could be the start of the marker split across two reads.
                    int keep = Math.min(partial.length(), READY.length());
                    partial.delete(0, partial.length() - keep);
                }
            }
            if (!p.isAlive()) {
                throw new IOException("kafka on 127.0.0.1:" + port + " exited (code " + p.exitValue()
                        + ") before it was ready; the end of " + logFile + ":\n" + tail(logFile));
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("kafka on 127.0.0.1:" + port + " was not ready within " + START_SECONDS
                        + " s; the end of " + logFile + ":\n" + tail(logFile));
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new IOException("interrupted while waiting for kafka on 127.0.0.1:" + port, e);
            }
        }
    }

    private void stopAtExit() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
        }
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // The JVM is exiting: the hook runs anyway and finds the broker stopped.
        }
    }

    /** The last 40 lines of a file, for error messages. */
    private static String tail(Path file) {
        try {
            Deque<String> last = new ArrayDeque<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                last.addLast(line);
                if (last.size() > 40) {
                    last.removeFirst();
                }
            }
            return String.join("\n", last);
        } catch (IOException | RuntimeException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    private static String java() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** The broker's classpath, every jar of which exists. */
    private static String classpath() throws IOException {
        Path file = classpathFile();
        String cp = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (cp.isEmpty()) {
            throw new NoSuchFileException(file.toString(), null, "the Kafka broker's classpath is empty: " + BUILD_IT);
        }
        List<String> missing = new ArrayList<>();
        for (String entry : cp.split(java.io.File.pathSeparator)) {
            if (!Files.exists(Path.of(entry))) {
                missing.add(entry);
            }
        }
        if (!missing.isEmpty()) {
            throw new NoSuchFileException(missing.getFirst(), null, "the Kafka broker's classpath (" + file + ") names "
                    + missing.size() + " jar(s) that are not there: " + BUILD_IT);
        }
        return cp;
    }

    private static Path classpathFile() throws NoSuchFileException {
        String override = System.getProperty(CLASSPATH_PROPERTY);
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            if (!Files.isRegularFile(p)) {
                throw new NoSuchFileException(override, null, "the Kafka broker's classpath file (from -D"
                        + CLASSPATH_PROPERTY + ") is not there: " + BUILD_IT);
            }
            return p;
        }
        Path cwd = Path.of("").toAbsolutePath();
        for (Path d = cwd; d != null; d = d.getParent()) {
            Path f = d.resolve(CLASSPATH_FILE);
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new NoSuchFileException(CLASSPATH_FILE, null, "the Kafka broker's classpath is not built (looked in "
                + cwd + " and its parents): " + BUILD_IT);
    }
}
