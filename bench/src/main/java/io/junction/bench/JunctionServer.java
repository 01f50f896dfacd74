package io.junction.bench;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Junction server started as a child process of the bench, on free ports with a temporary data directory:
 * {@code java --enable-native-access=ALL-UNNAMED -Xmx2g -cp <this JVM's class path> io.junction.server.Main run
 * --config <temp toml>}. Its output goes to a log file in the temp directory. Its {@code admin} gets a random password
 * through {@code JUNCTION_ADMIN_PASSWORD}; the bench logs in once the server is healthy and sends {@link #token()}.
 */
public final class JunctionServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    /** Stops the child if the bench is interrupted (Ctrl-C) before it closed it. */
    private final ChildProcess child;
    private final Path log;
    private final int mqttPort;
    private final int httpPort;
    private final String adminPassword;
    private volatile String token;

    private final Path config;
    private final String heap;

    private JunctionServer(Process process, Path tempDir, Path log, int mqttPort, int httpPort, String adminPassword,
                           Path config, String heap) {
        this.config = config;
        this.heap = heap;
        this.process = process;
        this.log = log;
        this.mqttPort = mqttPort;
        this.httpPort = httpPort;
        this.adminPassword = adminPassword;
        this.child = new ChildProcess(process, tempDir, 10);
    }

    /**
     * A config file for benchmarking the spine alone (mapping, pre-processing, durable append, live fan-out): the
     * features that follow the streams too — telemetry, which is on by default — are off.
     */
    public static Path spineOnlyConfig() throws IOException {
        Path f = Files.createTempFile("junction-bench-spine", ".toml");
        f.toFile().deleteOnExit();
        Files.writeString(f, "[telemetry]\nenabled = false\n");
        return f;
    }

    /**
     * Starts the server and waits (120 s at most) until {@code GET /api/health} answers 200.
     *
     * @param userConfig a config file whose other settings are kept; its MQTT/HTTP ports, anonymous flag and data
     *                   directory are replaced by the bench's own. May be null.
     * @param heap       the child's -Xmx, e.g. "2g"
     */
    public static JunctionServer start(Path userConfig, String heap) throws IOException {
        return start(userConfig, heap, List.of());
    }

    /**
     * As {@link #start(Path, String)}, with more sections put into the config as the bench's own (their keys replace
     * the file's): {@code {section, "key = value", ...}}, e.g. the engines a run selects ({@link BenchEngines}).
     */
    static JunctionServer start(Path userConfig, String heap, List<String[]> sections) throws IOException {
        int mqtt = Net.freePort();
        int http = Net.freePort();
        while (http == mqtt) {
            http = Net.freePort();
        }
        Path tmp = Files.createTempDirectory("junction-bench");
        Path data = tmp.resolve("data");
        Files.createDirectories(data);
        String base = userConfig == null ? "" : Files.readString(userConfig);
        Path config = tmp.resolve("junction.toml");
        Files.writeString(config, mergeConfig(base, mqtt, http, data, sections));
        Path log = tmp.resolve("junction.log");
        return launch(tmp, config, log, mqtt, http, heap, randomPassword());
    }

    private static JunctionServer launch(Path tmp, Path config, Path log, int mqtt, int http, String heap, String adminPassword) throws IOException {
        String javaExe = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaExe, "--enable-native-access=ALL-UNNAMED", "-Xmx" + heap));
        if (Runtime.version().feature() >= 24) {
            cmd.add("--sun-misc-unsafe-memory-access=allow");   // quiets Netty's warning on JDK 24+
        }
        // Extra options for the server only, e.g. a flight recording: JUNCTION_BENCH_SERVER_OPTS="-XX:StartFlightRecording=filename=/tmp/j.jfr"
        String extra = System.getenv("JUNCTION_BENCH_SERVER_OPTS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        cmd.addAll(List.of("-cp", absoluteClassPath(System.getProperty("java.class.path")),
                "io.junction.server.Main", "run", "--config", config.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(tmp.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("JUNCTION_ADMIN_PASSWORD", adminPassword);
        Process p = pb.start();
        JunctionServer s = new JunctionServer(p, tmp, log, mqtt, http, adminPassword, config, heap);
        try {
            s.awaitHealthy(Duration.ofSeconds(120));
            s.login();
        } catch (IOException | RuntimeException e) {
            String tail = s.logTail(80);
            s.close();
            throw new IOException(e.getMessage() + "\n--- server output ---\n" + tail + "\n--- end of server output ---", e);
        }
        return s;
    }

    /**
     * Kills the server with SIGKILL (no shutdown of any kind) and starts it again on the same ports, data directory
     * and admin password; the new process writes to {@code junction-restarted.log}. Returns the new server.
     */
    public JunctionServer killAndRestart() throws IOException, InterruptedException {
        child.abandon();
        process.destroyForcibly().waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        Path tmp = log.getParent();
        return launch(tmp, config, tmp.resolve("junction-restarted.log"), mqttPort, httpPort, heap, adminPassword);
    }

    /** The class path with every entry made absolute: the child runs in the temp directory. */
    static String absoluteClassPath(String cp) {
        List<String> out = new ArrayList<>();
        for (String e : cp.split(java.io.File.pathSeparator)) {
            if (e.isEmpty()) {
                continue;
            }
            if (e.endsWith("*")) {
                String dir = e.substring(0, e.length() - 1);
                out.add(Path.of(dir.isEmpty() ? "." : dir).toAbsolutePath() + java.io.File.separator + "*");
            } else {
                out.add(Path.of(e).toAbsolutePath().toString());
            }
        }
        return String.join(java.io.File.pathSeparator, out);
    }

    /**
     * The user's config with the bench's settings put in: {@code [mqtt] port, anonymous}, {@code [http] port, host}
     * and {@code [data] dir} replace whatever the file said; the other keys are kept.
     */
    static String mergeConfig(String base, int mqttPort, int httpPort, Path dataDir) {
        return mergeConfig(base, mqttPort, httpPort, dataDir, List.of());
    }

    /** As {@link #mergeConfig(String, int, int, Path)}, with {@code extra} sections ({@code {name, line...}}) put in too. */
    static String mergeConfig(String base, int mqttPort, int httpPort, Path dataDir, List<String[]> extra) {
        String dir = dataDir.toAbsolutePath().toString().replace("\\", "\\\\").replace("\"", "\\\"");
        List<String[]> sections = new ArrayList<>(List.of(
                new String[]{"mqtt", "port = " + mqttPort, "anonymous = true"},
                new String[]{"http", "host = \"127.0.0.1\"", "port = " + httpPort},
                new String[]{"data", "dir = \"" + dir + "\""}));
        sections.addAll(extra);
        String[][] ours = sections.toArray(new String[0][]);
        Pattern header = Pattern.compile("^\\s*\\[\\s*([A-Za-z0-9_.\\-]+)\\s*]\\s*(#.*)?$");
        Pattern key = Pattern.compile("^\\s*([A-Za-z0-9_\\-]+)\\s*=.*$");
        StringBuilder out = new StringBuilder();
        boolean[] written = new boolean[ours.length];
        int current = -1;
        for (String line : base.split("\\R", -1)) {
            Matcher h = header.matcher(line);
            if (h.matches()) {
                current = -1;
                for (int i = 0; i < ours.length; i++) {
                    if (ours[i][0].equals(h.group(1))) {
                        current = i;
                    }
                }
                out.append(line).append('\n');
                if (current >= 0) {
                    for (int k = 1; k < ours[current].length; k++) {
                        out.append(ours[current][k]).append('\n');
                    }
                    written[current] = true;
                }
                continue;
            }
            if (current >= 0) {
                Matcher k = key.matcher(line);
                if (k.matches() && replaced(ours[current], k.group(1))) {
                    out.append("# (replaced by the bench) ").append(line).append('\n');
                    continue;
                }
            }
            out.append(line).append('\n');
        }
        for (int i = 0; i < ours.length; i++) {
            if (!written[i]) {
                out.append('\n').append('[').append(ours[i][0]).append("]\n");
                for (int k = 1; k < ours[i].length; k++) {
                    out.append(ours[i][k]).append('\n');
                }
            }
        }
        return out.toString();
    }

    private static boolean replaced(String[] section, String key) {
        for (int k = 1; k < section.length; k++) {
            if (section[k].startsWith(key + " ")) {
                return true;
            }
        }
        return false;
    }

    private void awaitHealthy(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer yet";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("the Junction server exited with code " + process.exitValue() + " before it was healthy");
            }
            try {
                HttpResponse<String> r = Net.get(baseUrl() + "/api/health", Duration.ofSeconds(2));
                if (r.statusCode() == 200) {
                    return;
                }
                last = "HTTP " + r.statusCode() + ": " + r.body();
            } catch (IOException e) {
                last = e.toString();
            }
            Net.sleep(200);
        }
        throw new IOException("the Junction server was not healthy after " + timeout.toSeconds()
                + " s (GET /api/health: " + last + ")");
    }

    /** Logs in as {@code admin} (POST /api/auth/login) and keeps the token. */
    private void login() throws IOException {
        String body = JSON.createObjectNode().put("username", "admin").put("password", adminPassword).toString();
        HttpResponse<String> r;
        try {
            r = Net.http().send(HttpRequest.newBuilder(URI.create(baseUrl() + "/api/auth/login")).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while logging in", e);
        }
        if (r.statusCode() != 200) {
            throw new IOException("logging in as admin answered HTTP " + r.statusCode() + ": " + r.body());
        }
        token = JSON.readTree(r.body()).get("token").asText();
    }

    private static String randomPassword() {
        byte[] b = new byte[18];
        new SecureRandom().nextBytes(b);
        return "bench-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The admin's bearer token, for {@code Authorization: Bearer} (see {@link Net#bearer}). */
    public String token() {
        return token;
    }

    public int mqttPort() {
        return mqttPort;
    }

    public int httpPort() {
        return httpPort;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + httpPort;
    }

    /** The live WebSocket, with the admin's token as {@code ?token=} (a WebSocket client may not send headers). */
    public String wsUrl() {
        return "ws://127.0.0.1:" + httpPort + "/api/ws?token=" + token;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** True when the process is alive and {@code /api/health} answers 200. */
    public boolean isHealthy() {
        if (!process.isAlive()) {
            return false;
        }
        try {
            return Net.get(baseUrl() + "/api/health", Duration.ofSeconds(5)).statusCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** The child's resident set size in kB (VmRSS of /proc/<pid>/status), or -1 when unknown. */
    public long rssKb() {
        return rssKb(process.pid());
    }

    static long rssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    String v = line.substring(6).trim().toLowerCase(Locale.ROOT).replace("kb", "").trim();
                    return Long.parseLong(v);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** Whether the server's output so far contains {@code text}. */
    public boolean logContains(String text) throws IOException {
        try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.anyMatch(l -> l.contains(text));
        } catch (java.io.UncheckedIOException e) {
            // undecodable bytes: fall back to a byte-level search
            return new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1).contains(text);
        }
    }

    /** The last {@code n} lines of the server's output. */
    public String logTail(int n) {
        try {
            List<String> lines = List.of(new String(Files.readAllBytes(log), StandardCharsets.UTF_8).split("\\R"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    /** Stops the server (SIGTERM, then SIGKILL after 10 s) and deletes its temp directory. */
    @Override
    public void close() {
        child.close();
    }
}
