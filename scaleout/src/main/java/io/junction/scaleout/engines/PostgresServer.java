package io.junction.scaleout.engines;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A PostgreSQL server from Debian's binaries ({@code /usr/lib/postgresql/{15,16,17}/bin}), on loopback, for
 * {@code ./junction engines up} and for tests. The cluster lives in {@code <dir>/data} (created by {@code initdb} on
 * the first start, kept afterwards, so a restart keeps the data), the log in {@code <dir>/postgres.log}. It has one
 * role, {@code junction}, with a random password kept in {@code <dir>/password} (readable by its owner only), and a
 * database {@code junction}: it listens on 127.0.0.1 only, but another user of the machine must not be able to read it.
 *
 * <p>PostgreSQL refuses to run as root, so as root it runs as the {@code postgres} user (or {@code nobody}) through
 * {@code runuser}, and {@code dir} is handed to that user. {@link #start} keeps {@code fsync} and
 * {@code synchronous_commit} on, as data worth keeping needs; {@link #startForTests} turns {@code fsync} off for speed.
 * A shutdown hook stops the server when the JVM exits normally.
 */
public final class PostgresServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PostgresServer.class);
    private static final List<String> BIN_DIRS = List.of("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
            "/usr/lib/postgresql/15/bin");
    private static final String USER = "junction";
    private static final String DATABASE = "junction";
    private static final long START_TIMEOUT_SECONDS = 120;
    private static final long STOP_TIMEOUT_SECONDS = 60;

    private final Path dir;
    private final int port;
    private final boolean forTests;
    private final String password;
    private final Process process;
    /** Held from the start: a handle checks the process' start time, so a reused pid is never signalled. */
    private final ProcessHandle postmaster;
    private final Thread hook;

    private PostgresServer(Path dir, int port, boolean forTests, String password, Process process, ProcessHandle postmaster) {
        this.dir = dir;
        this.port = port;
        this.forTests = forTests;
        this.password = password;
        this.process = process;
        this.postmaster = postmaster;
        this.hook = new Thread(this::stopQuietly, "postgres-stop-" + port);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * Starts PostgreSQL with its cluster in {@code dir/data} (initialised on the first start) on 127.0.0.1:{@code port},
     * with {@code fsync} and {@code synchronous_commit} on; returns once it accepts connections to the database
     * {@code junction}. Throws {@link IOException} with what to do when PostgreSQL is not installed, when {@code dir}
     * cannot be used, or with the end of its log when it does not start.
     */
    public static PostgresServer start(Path dir, int port) throws IOException {
        return start(dir, port, false);
    }

    /**
     * As {@link #start}, but with {@code fsync} and {@code full_page_writes} off: fast, and what was committed survives
     * {@link #kill()} of PostgreSQL, but not a crash of the machine.
     */
    public static PostgresServer startForTests(Path dir, int port) throws IOException {
        return start(dir, port, true);
    }

    /** Whether PostgreSQL's binaries are installed where {@link #start} looks for them. */
    public static boolean installed() {
        return binaries().isPresent();
    }

    /** The JDBC URL of the database {@code junction}. */
    public String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE;
    }

    public String user() {
        return USER;
    }

    public String password() {
        return password;
    }

    public int port() {
        return port;
    }

    /** The process id of the postmaster (PostgreSQL's main process). */
    public long pid() {
        return postmaster.pid();
    }

    /**
     * Leaves the server running when this JVM exits (no shutdown hook stops it any more): for
     * {@code ./junction engines up}, which starts the engines and returns.
     */
    public void detach() {
        removeHook();
    }

    /** Fast shutdown: SIGINT to the postmaster (clients are disconnected, the data is checkpointed), then waits. */
    public void stop() {
        removeHook();
        stopQuietly();
    }

    /** Kills the postmaster and its children with SIGKILL, as a crash would; the next start recovers from the WAL. */
    public void kill() {
        removeHook();
        List<ProcessHandle> children = postmaster.descendants().toList();
        postmaster.destroyForcibly();
        children.forEach(ProcessHandle::destroyForcibly);
        waitFor(postmaster, children, 30);
        process.destroyForcibly();
        log.info("postgres killed port={} pid={}", port, postmaster.pid());
    }

    /** Stops this server if it still runs and starts it again on the same folder, port and settings; use the one returned. */
    public PostgresServer restart() throws IOException {
        stop();
        return start(dir, port, forTests);
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    // ---------------------------------------------------------------- start

    private static PostgresServer start(Path dir, int port, boolean forTests) throws IOException {
        String bin = binaries().orElseThrow(() -> new IOException("PostgreSQL is not installed (no initdb and postgres under "
                + String.join(", ", BIN_DIRS) + "): install it with 'apt-get install postgresql'"));
        dir = dir.toAbsolutePath().normalize();
        // As PostgreSQL binds (SO_REUSEADDR): connections of a killed server lingering in TIME_WAIT do not count.
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
        } catch (IOException e) {
            throw new IOException("PostgreSQL cannot listen on 127.0.0.1:" + port + ": the port is already in use ("
                    + e.getMessage() + "); stop what uses it or pick another port", e);
        }
        Files.createDirectories(dir);
        String runAs = "root".equals(System.getProperty("user.name")) ? (userExists("postgres") ? "postgres" : "nobody") : null;
        Path data = dir.resolve("data");
        Path passwordFile = dir.resolve("password");
        Path socket = dir.resolve("sock");
        Files.createDirectories(socket);
        boolean fresh = !Files.exists(data.resolve("PG_VERSION"));
        long began = System.nanoTime();
        if (fresh) {
            writePassword(passwordFile);
        } else if (!Files.isReadable(passwordFile)) {
            throw new IOException("the PostgreSQL cluster in " + data + " has no password file " + passwordFile
                    + ": restore it, or remove " + dir + " to start afresh");
        }
        if (runAs != null) {
            // initdb and postgres write here as runAs; the JVM keeps reading the log and the password as root.
            run(List.of("chown", fresh ? "-R" : "--", runAs, dir.toString()), null, 60);
            run(List.of("chown", runAs, socket.toString(), passwordFile.toString()), null, 60);
            try {
                run(List.of("test", "-w", dir.toString()), runAs, 30);
            } catch (IOException e) {
                throw new IOException("PostgreSQL runs as the user " + runAs + ", who cannot reach " + dir
                        + ": a folder above it is closed to other users; pick a folder under /var/lib or /tmp, "
                        + "or open the parents with 'chmod o+x'", e);
            }
        }
        String password = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
        if (fresh) {
            List<String> initdb = new ArrayList<>(List.of(bin + "/initdb", "-D", data.toString(), "-U", USER,
                    "--pwfile=" + passwordFile, "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-instructions"));
            if (forTests) {
                initdb.add("--no-sync");
            }
            run(initdb, runAs, 300);
        }
        List<String> cmd = new ArrayList<>(List.of(bin + "/postgres", "-D", data.toString(), "-p", String.valueOf(port),
                "-c", "listen_addresses=127.0.0.1",
                // A socket path longer than 107 bytes is refused: then TCP only.
                "-c", "unix_socket_directories=" + (socket.toString().length() < 100 ? socket : "")));
        if (forTests) {
            // synchronous_commit stays on: a commit is then written to the OS before it returns, so a committed
            // write survives kill(); only a crash of the machine would lose it.
            cmd.addAll(List.of("-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"));
        }
        Path logFile = dir.resolve("postgres.log");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_TIMEOUT_SECONDS);
        while (true) {
            long logStart = Files.exists(logFile) ? Files.size(logFile) : 0;
            Process process = new ProcessBuilder(asUser(cmd, runAs)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
            Optional<String> failure = awaitReady(process, port, password, deadline);
            if (failure.isEmpty()) {
                ProcessHandle postmaster = postmasterPid(data).flatMap(ProcessHandle::of).orElse(process.toHandle());
                long pid = postmaster.pid();
                PostgresServer server = new PostgresServer(dir, port, forTests, password, process, postmaster);
                server.createDatabase();
                log.info("postgres started dir={} port={} pid={} fresh={} fsync={} millis={}", dir, port, pid, fresh,
                        !forTests, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
                return server;
            }
            process.destroyForcibly();
            String tail = tail(logFile, logStart);
            // After a crash, the old backends may hold the shared memory for a moment: try again.
            if (tail.contains("pre-existing shared memory block") && System.nanoTime() < deadline) {
                sleep(200);
                continue;
            }
            throw new IOException("PostgreSQL did not start on 127.0.0.1:" + port + " (" + failure.get() + "); "
                    + logFile + " ends with:\n" + tail);
        }
    }

    /** Empty once PostgreSQL accepts a connection; else why not (it exited, or the deadline passed). */
    private static Optional<String> awaitReady(Process process, int port, String password, long deadline) throws IOException {
        Properties props = new Properties();
        props.setProperty("user", USER);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "5");
        // Something else on the port may accept and never answer: bound the whole log-in, not only the connect.
        props.setProperty("loginTimeout", "5");
        props.setProperty("socketTimeout", "10");
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
        while (true) {
            try (Connection c = DriverManager.getConnection(url, props)) {
                return Optional.empty();
            } catch (SQLException e) {
                if (!process.isAlive()) {
                    return Optional.of("it exited with status " + process.exitValue());
                }
                if (System.nanoTime() > deadline) {
                    return Optional.of("no answer within " + START_TIMEOUT_SECONDS + " s: " + e.getMessage());
                }
                sleep(100);
            }
        }
    }

    private void createDatabase() throws IOException {
        Properties props = new Properties();
        props.setProperty("user", USER);
        props.setProperty("password", password);
        props.setProperty("loginTimeout", "5");
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", props);
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            s.execute("CREATE DATABASE " + DATABASE);
        } catch (SQLException e) {
            stop();
            throw new IOException("cannot create the database " + DATABASE + " on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
    }

    private static void writePassword(Path file) throws IOException {
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, Base64.getUrlEncoder().withoutPadding().encodeToString(random) + "\n", StandardCharsets.UTF_8);
    }

    private static Optional<Long> postmasterPid(Path data) {
        try {
            String first = Files.readAllLines(data.resolve("postmaster.pid"), StandardCharsets.UTF_8).getFirst().strip();
            return Optional.of(Long.parseLong(first));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> binaries() {
        return BIN_DIRS.stream()
                .filter(d -> Files.isExecutable(Path.of(d, "initdb")) && Files.isExecutable(Path.of(d, "postgres")))
                .findFirst();
    }

    // ---------------------------------------------------------------- stop

    private void stopQuietly() {
        if (!postmaster.isAlive()) {
            process.destroyForcibly();
            return;
        }
        long pid = postmaster.pid();
        List<ProcessHandle> children = postmaster.descendants().toList();
        try {
            // SIGTERM would wait for every client to disconnect; SIGINT disconnects them (a "fast" shutdown).
            new ProcessBuilder("kill", "-INT", String.valueOf(pid)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            log.warn("postgres: cannot signal pid={}: {}", pid, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!waitFor(postmaster, List.of(), STOP_TIMEOUT_SECONDS)) {
            log.warn("postgres did not stop within {} s port={} pid={}: killing it", STOP_TIMEOUT_SECONDS, port, pid);
            postmaster.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
            waitFor(postmaster, children, 10);
        }
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("postgres stopped port={} pid={}", port, pid);
    }

    /** Whether every process ended within {@code seconds}. */
    private static boolean waitFor(ProcessHandle postmaster, List<ProcessHandle> children, long seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<ProcessHandle> all = new ArrayList<>(children);
        all.add(postmaster);
        for (ProcessHandle h : all) {
            try {
                h.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException | ExecutionException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already exiting: the hook runs (or ran) anyway
        }
    }

    // ---------------------------------------------------------------- helpers

    private static boolean userExists(String name) throws IOException {
        try {
            Process p = new ProcessBuilder("id", "-u", name).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static List<String> asUser(List<String> cmd, String user) {
        if (user == null) {
            return cmd;
        }
        List<String> out = new ArrayList<>(List.of("runuser", "-u", user, "--"));
        out.addAll(cmd);
        return out;
    }

    private static void run(List<String> cmd, String user, int seconds) throws IOException {
        List<String> full = asUser(cmd, user);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(seconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", full) + " failed: " + new String(out, StandardCharsets.UTF_8).strip());
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", full), e);
        }
    }

    private static String tail(Path logFile, long from) {
        try {
            byte[] bytes = Files.readAllBytes(logFile);
            int start = (int) Math.max(Math.min(from, bytes.length), bytes.length - 4000L);
            return new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read it: " + e.getMessage() + ")";
        }
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting PostgreSQL", e);
        }
    }
}
