package io.junction.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code ./junction bench exec}: a server in a child JVM, clients over real sockets on the real-time WebSocket.
 * (1) exec round trip of a trivial function ({@code virtual.echo}) at a steady rate, and (2) the same through a
 * device (a generic MQTT driver whose function records and publishes a command), p50/p99 from request sent to answer
 * read; (3) one status variable bound by N sockets, changed at a steady rate: notifies delivered per second and p99
 * from the change being requested to each socket reading it.
 */
final class ExecBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** How a notify frame starts; its value (JSON text in a string) follows. */
    private static final String NOTIFY = "{\"type\":\"notify\",\"value\":\"";

    private ExecBench() {
    }

    static int run(String[] args, PrintStream out) throws Exception {
        int rate = 2000;
        int seconds = 10;
        int clients = 1000;
        int changes = 100;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rate" -> rate = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--changes" -> changes = Integer.parseInt(args[++i]);
                case "--help", "-h" -> {
                    out.println("""
                            usage: ./junction bench exec [--rate 2000] [--seconds 10] [--clients 1000] [--changes 100]
                              --rate      exec requests per second (one socket, pipelined)
                              --seconds   how long each pass runs
                              --clients   sockets bound to one status variable in the fan-out pass
                              --changes   status changes per second in the fan-out pass""");
                    return 0;
                }
                default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'; see ./junction bench exec --help");
            }
        }
        Path config = Files.createTempFile("junction-exec-bench", ".toml");
        Files.writeString(config, """
                [telemetry]
                enabled = false

                [[drivers]]
                id = "bench-light"
                name = "Light"
                status = { power = "bench.light.power" }
                [drivers.functions.power]
                key = "bench.light.power"
                params = { state = "Bool" }
                payload = "state"
                """);
        try (JunctionServer server = JunctionServer.start(config, "2g")) {
            String token = server.token();
            post(server, token, "/api/modules", "{\"id\": \"virtual-1\", \"driver\": \"virtual\", \"name\": \"Virtual\"}");
            post(server, token, "/api/modules", "{\"id\": \"light-1\", \"driver\": \"bench-light\", \"name\": \"Light\"}");
            post(server, token, "/api/systems", "{\"id\": \"bench\", \"name\": \"Bench\", \"modules\": [\"virtual-1\", \"light-1\"]}");
            String ws = "ws://127.0.0.1:" + server.httpPort() + "/api/engine/v2/websocket?bearer_token=" + token;
            out.printf("exec bench: server pid %d, %d exec/s for %d s per pass, fan-out to %d sockets at %d changes/s%n",
                    server.pid(), rate, seconds, clients, changes);

            // Warm-up, the transport alone as the reference, then the two exec passes.
            execPass(ws, "Virtual", "echo", "[1]", rate, 3);
            LatencyHistogram ping = pingPass(ws, rate, seconds);
            out.printf("reference, the same socket without exec (text frame ping -> pong): %d frames, p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    ping.count(), ping.percentile(50) / 1000.0, ping.percentile(99) / 1000.0, ping.max() / 1000.0);
            LatencyHistogram virtual = execPass(ws, "Virtual", "echo", "[1]", rate, seconds);
            out.printf("exec virtual module (echo): %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms   target p99 <= 2 ms%n",
                    virtual.count(), virtual.percentile(50) / 1000.0, virtual.percentile(99) / 1000.0, virtual.max() / 1000.0);
            out.printf("  inside the server (argument check to answer, junction_devices_exec): %s%n", serverExec(server, token));
            execPass(ws, "Light", "power", "[true]", rate, 2);
            LatencyHistogram device = execPass(ws, "Light", "power", "[true]", rate, seconds);
            out.printf("exec through a device (generic MQTT power -> durable command + publish): %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms   target p99 <= 10 ms%n",
                    device.count(), device.percentile(50) / 1000.0, device.percentile(99) / 1000.0, device.max() / 1000.0);

            out.printf("  inside the server (argument check to answer, junction_devices_exec): %s%n", serverExec(server, token));

            fanOut(ws, server, token, clients, changes, seconds, out);
        } finally {
            Files.deleteIfExists(config);
        }
        return 0;
    }

    /** The server's own exec percentiles from /metrics (a window of the last minutes, both passes mixed after the second). */
    private static String serverExec(JunctionServer server, String token) throws IOException {
        String metrics = Net.get(server.baseUrl() + "/metrics", Duration.ofSeconds(10), token).body();
        StringBuilder b = new StringBuilder();
        for (String line : metrics.split("\n")) {
            if (line.startsWith("junction_devices_exec_seconds{") && line.contains("quantile=")) {
                String q = line.substring(line.indexOf("quantile=\"") + 10, line.indexOf('"', line.indexOf("quantile=\"") + 10));
                double v = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                b.append("p").append(q.equals("0.5") ? "50" : q.equals("0.99") ? "99" : q).append(' ')
                        .append(String.format(java.util.Locale.ROOT, "%.2f ms  ", v * 1000));
            }
        }
        return b.isEmpty() ? "(not found in /metrics)" : b.toString().trim();
    }

    /** Calls {@code send} with 0, 1, ... {@code total - 1}, {@code rate} times a second on a fixed schedule (open loop). */
    private static void paced(long total, int rate, java.util.function.LongConsumer send) {
        long interval = 1_000_000_000L / rate;
        long start = System.nanoTime();
        for (long i = 0; i < total; i++) {
            long wait = start + i * interval - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            send.accept(i);
        }
    }

    private static void post(JunctionServer server, String token, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = Net.http().send(Net.bearer(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)), token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("POST " + path + " answered " + r.statusCode() + ": " + r.body());
        }
    }

    /** Sends "ping" text frames at {@code rate}/s for {@code seconds}; the answers come in order, so they match FIFO. */
    private static LatencyHistogram pingPass(String url, int rate, int seconds) throws Exception {
        LatencyHistogram h = new LatencyHistogram();
        java.util.concurrent.ConcurrentLinkedQueue<Long> sent = new java.util.concurrent.ConcurrentLinkedQueue<>();
        long total = (long) rate * seconds;
        CountDownLatch answered = new CountDownLatch((int) total);
        Client c = new Client(url, frame -> {
            if (frame.equals("pong")) {
                Long at = sent.poll();
                if (at != null) {
                    synchronized (h) {
                        h.record((System.nanoTime() - at) / 1000);
                    }
                    answered.countDown();
                }
            }
        });
        paced(total, rate, i -> {
            sent.add(System.nanoTime());
            c.send("ping");
        });
        if (!answered.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(answered.getCount() + " pings were not answered");
        }
        c.close();
        return h;
    }

    /** Sends exec requests at {@code rate}/s for {@code seconds} on one socket; returns the round-trip latencies. */
    private static LatencyHistogram execPass(String url, String mod, String fn, String args, int rate, int seconds) throws Exception {
        LatencyHistogram h = new LatencyHistogram();
        Map<Long, Long> sent = new ConcurrentHashMap<>();
        AtomicLong errors = new AtomicLong();
        long total = (long) rate * seconds;
        CountDownLatch answered = new CountDownLatch((int) total);
        Client c = new Client(url, frame -> {
            JsonNode f = JSON.readTree(frame);
            Long at = sent.remove(f.path("id").asLong());
            if (at != null) {
                synchronized (h) {
                    h.record((System.nanoTime() - at) / 1000);
                }
                if (!f.path("type").asText().equals("success")) {
                    errors.incrementAndGet();
                }
                answered.countDown();
            }
        });
        paced(total, rate, i -> {
            sent.put(i, System.nanoTime());
            c.send("{\"id\": " + i + ", \"cmd\": \"exec\", \"sys\": \"bench\", \"mod\": \"" + mod + "\", \"index\": 1, \"name\": \""
                    + fn + "\", \"args\": " + args + "}");
        });
        if (!answered.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(answered.getCount() + " exec requests were not answered");
        }
        c.close();
        if (errors.get() > 0) {
            throw new IllegalStateException(errors.get() + " exec requests failed");
        }
        return h;
    }

    private static void fanOut(String url, JunctionServer server, String token, int clients, int changes, int seconds, PrintStream out)
            throws Exception {
        LatencyHistogram h = new LatencyHistogram();
        AtomicLong received = new AtomicLong();
        CountDownLatch bound = new CountDownLatch(clients);
        List<Client> sockets = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            sockets.add(new Client(url, frame -> {
                // Read just what is needed, so that 100k frames/s on this shared machine measure the server, not Jackson.
                if (frame.startsWith(NOTIFY)) {
                    int from = NOTIFY.length();
                    String text = frame.substring(from, frame.indexOf('"', from));
                    long v = text.isEmpty() || !Character.isDigit(text.charAt(0)) ? 0 : Long.parseLong(text);
                    if (v > 0) {
                        long micros = (System.nanoTime() - v) / 1000;
                        synchronized (h) {
                            h.record(micros);
                        }
                        received.incrementAndGet();
                    }
                } else if (JSON.readTree(frame).path("type").asText().equals("success")) {
                    bound.countDown();
                }
            }));
        }
        for (Client c : sockets) {
            c.send("{\"id\": 1, \"cmd\": \"bind\", \"sys\": \"bench\", \"mod\": \"Virtual\", \"index\": 1, \"name\": \"level\"}");
        }
        if (!bound.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(bound.getCount() + " sockets did not bind");
        }
        // The value of each change is the bench's System.nanoTime() when it was requested (one JVM reads both ends).
        Client setter = new Client(url, frame -> { });
        long total = (long) changes * seconds;
        long start = System.nanoTime();
        paced(total, changes, i -> setter.send("{\"id\": " + i + ", \"cmd\": \"exec\", \"sys\": \"bench\", \"mod\": \"Virtual\", \"index\": 1, \"name\": \"set\", "
                    + "\"args\": {\"name\": \"level\", \"value\": " + System.nanoTime() + "}}"));
        long expected = total * clients;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received.get() < expected && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        out.printf("status fan-out: %d changes x %d bound sockets = %d notifies expected, %d delivered in %.1f s (%.0f notifies/s), "
                        + "p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                total, clients, expected, received.get(), elapsed, received.get() / elapsed,
                h.percentile(50) / 1000.0, h.percentile(99) / 1000.0, h.max() / 1000.0);
        setter.close();
        sockets.forEach(Client::close);
    }

    /** A WebSocket client handing each whole text frame to a handler on the client's thread. */
    private static final class Client implements WebSocket.Listener {
        interface Handler {
            void frame(String text) throws Exception;
        }

        private final Handler handler;
        private final StringBuilder partial = new StringBuilder();
        private final WebSocket socket;

        Client(String url, Handler handler) {
            this.handler = handler;
            this.socket = Net.http().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30)).buildAsync(URI.create(url), this).join();
        }

        synchronized void send(String text) {
            socket.sendText(text, true).join();
        }

        void close() {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                try {
                    handler.frame(text);
                } catch (Exception e) {
                    throw new IllegalStateException("a frame could not be read: " + text, e);
                }
            }
            webSocket.request(1);
            return null;
        }
    }
}
