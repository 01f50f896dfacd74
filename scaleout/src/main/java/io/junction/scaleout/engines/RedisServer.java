package io.junction.scaleout.engines;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Redis server from Debian's {@code redis-server}, run as a child process on loopback: for the tests and for
 * {@code ./junction engines up}. Its data and {@code redis.log} live in the directory it is given. Without
 * persistence nothing is written to disk ({@code --save '' --appendonly no}); with it, every write goes to the
 * append-only file before Redis answers and is forced to disk every second ({@code appendfsync everysec}), so killing
 * the process loses nothing acknowledged and a machine crash loses at most about a second. A shutdown hook kills the
 * server if the JVM exits without {@link #stop()}.
 */
public final class RedisServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisServer.class);
    public static final String NOT_INSTALLED = "redis-server is not installed: install it with 'apt-get install redis-server'";
    /** Tried in order: the name alone is looked up on PATH by the operating system. */
    private static final List<String> BINARIES = List.of("redis-server", "/usr/bin/redis-server");
    private static final long READY_SECONDS = 20;

    private final Path dir;
    private final int port;
    private final boolean persistent;
    private final List<String> extraArgs;
    private final Process process;
    private final Thread hook;

    private RedisServer(Path dir, int port, boolean persistent, List<String> extraArgs, Process process, Thread hook) {
        this.dir = dir;
        this.port = port;
        this.persistent = persistent;
        this.extraArgs = extraArgs;
        this.process = process;
        this.hook = hook;
    }

    /**
     * Starts {@code redis-server} on {@code 127.0.0.1:port} with its files in {@code dir} (created if missing) and
     * returns once it answers PING. {@code persistent} turns the append-only file on.
     */
    public static RedisServer start(Path dir, int port, boolean persistent) throws IOException {
        return start(dir, port, persistent, List.of());
    }

    /** As {@link #start(Path, int, boolean)}, with more {@code --option value} arguments (the test server's databases). */
    static RedisServer start(Path dir, int port, boolean persistent, List<String> extraArgs) throws IOException {
        Files.createDirectories(dir);
        List<String> args = new ArrayList<>(List.of("--port", String.valueOf(port), "--bind", "127.0.0.1",
                "--save", "", "--daemonize", "no", "--notify-keyspace-events", "Ex", "--dir", dir.toAbsolutePath().toString()));
        if (persistent) {
            args.addAll(List.of("--appendonly", "yes", "--appendfsync", "everysec"));
        } else {
            args.addAll(List.of("--appendonly", "no"));
        }
        args.addAll(extraArgs);
        File logFile = dir.resolve("redis.log").toFile();
        Process process = launch(args, logFile);
        Thread hook = new Thread(() -> process.destroyForcibly(), "redis-server-" + port + "-kill");
        Runtime.getRuntime().addShutdownHook(hook);
        RedisServer server = new RedisServer(dir, port, persistent, List.copyOf(extraArgs), process, hook);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(READY_SECONDS);
        while (!ping(port)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                server.kill();
                throw new IOException("redis-server on port " + port + " did not start"
                        + (process.isAlive() ? " within " + READY_SECONDS + " s" : " (exit code " + process.exitValue() + ")")
                        + "; the end of " + logFile + ":\n" + tail(logFile.toPath()));
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.kill();
                throw new IOException("interrupted while starting redis-server on port " + port, e);
            }
        }
        log.info("redis started port={} pid={} dir={} persistent={}", port, process.pid(), dir, persistent);
        return server;
    }

    /** {@code redis://127.0.0.1:<port>}. */
    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    public long pid() {
        return process.pid();
    }

    /**
     * Leaves the server running when this JVM exits (no shutdown hook kills it any more): for
     * {@code ./junction engines up}, which starts the engines and returns.
     */
    public void detach() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }

    /** Stops the server gracefully (SIGTERM: it writes the append-only file out), killing it after 10 s. */
    public void stop() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    log.warn("redis port={} pid={} did not stop within 10 s; killing it", port, process.pid());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        kill();
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }

    /**
     * Starts the server again on the same port, directory and persistence (stopping this one first if it still runs);
     * the returned server replaces this one.
     */
    public RedisServer restart() throws IOException {
        stop();
        return start(dir, port, persistent, extraArgs);
    }

    /** {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /** Runs the first of {@link #BINARIES} that exists with {@code args}. */
    private static Process launch(List<String> args, File logFile) throws IOException {
        for (String binary : BINARIES) {
            List<String> cmd = new ArrayList<>();
            cmd.add(binary);
            cmd.addAll(args);
            try {
                return new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile)).start();
            } catch (IOException e) {
                log.debug("redis-server not at binary={}: {}", binary, e.getMessage());
            }
        }
        throw new IOException(NOT_INSTALLED);
    }

    /** Whether a Redis on loopback {@code port} answers PING (no client library needed). */
    private static boolean ping(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            s.setSoTimeout(1000);
            OutputStream out = s.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[7];
            int n = in.readNBytes(buf, 0, buf.length);
            return new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(cannot read it: " + e.getMessage() + ")";
        }
    }
}
