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
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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

    static final String HELP = """
            usage: ./junction bench exec [--rate 2000] [--seconds 10] [--clients 1000] [--changes 100]
                                         [--engines SETUPS] [--runs N]
              --rate      exec requests per second (one socket, pipelined)
              --seconds   how long each pass runs
              --clients   sockets bound to one status variable in the fan-out pass
              --changes   status changes per second in the fan-out pass
              --engines   run the server on engines the bench starts for the run and stops: setups separated by
                          '/', each 'embedded', 'all' or a comma list of kafka, redis, postgres; 'embedded/all'
                          prints both side by side with the CPU per exec of the server and of each engine
              --runs      run the setups N times, interleaved, and print the medians (default 1)""";

    /**
     * @param engines the setups, in order; empty = the embedded stores without naming them (no setup column)
     * @param runs    how many times the setups run, interleaved
     */
    record Options(int rate, int seconds, int clients, int changes, List<EngineSetup> engines, int runs) {
        Options {
            engines = List.copyOf(engines);
        }
    }

    /** One pass's latencies (microseconds) and what the watched processes used meanwhile, per {@code units}. */
    record Measured(long count, long p50, long p99, long max, Usage.Cost cost, double units) {

        static Measured of(LatencyHistogram h, Usage.Sample before, Usage.Sample after, double units) {
            return new Measured(h.count(), h.percentile(50), h.percentile(99), h.max(), Usage.between(before, after), units);
        }

        double micros(String process) {
            return cost.microsPer(process, units);
        }

        double engineMicros() {
            boolean any = cost.cpuSeconds().keySet().stream().anyMatch(k -> !k.equals(IngestBench.SERVER) && !k.equals(IngestBench.BENCH));
            return any ? cost.cpuSecondsExcept(List.of(IngestBench.SERVER, IngestBench.BENCH)) * 1e6 / units : Double.NaN;
        }
    }

    /** The fan-out pass: notifies expected and delivered, the rate, and the latency. */
    record FanOut(long expected, long delivered, double perSecond, Measured latency) {
    }

    /** One run of one setup. */
    record Outcome(String target, int run, Measured ping, Measured echo, Measured device, FanOut fanOut,
                   Map<String, Long> memoryKb) {
        long engineMemoryKb() {
            long sum = 0;
            for (Map.Entry<String, Long> e : memoryKb.entrySet()) {
                if (!e.getKey().equals(IngestBench.SERVER) && !e.getKey().equals(IngestBench.BENCH) && e.getValue() > 0) {
                    sum += e.getValue();
                }
            }
            return sum;
        }
    }

    static Options options(String[] args) throws Args.UsageException {
        Args a = new Args(args, 0, Set.of("--rate", "--seconds", "--clients", "--changes", "--engines", "--runs"), Set.of());
        return new Options(
                a.integer("--rate", 2000, 1, 1_000_000),
                a.integer("--seconds", 10, 1, 86_400),
                a.integer("--clients", 1000, 1, 100_000),
                a.integer("--changes", 100, 1, 1_000_000),
                BenchMain.engines(a),
                a.integer("--runs", 1, 1, 100));
    }

    static int run(String[] args, PrintStream out) throws Exception {
        for (String a : args) {
            if (a.equals("--help") || a.equals("-h")) {
                out.println(HELP);
                return 0;
            }
        }
        Options o = options(args);
        out.printf(Locale.ROOT, "exec bench: %d exec/s for %d s per pass, fan-out to %d sockets at %d changes/s; %d cores, JDK %s%n",
                o.rate(), o.seconds(), o.clients(), o.changes(), Runtime.getRuntime().availableProcessors(), Runtime.version());
        if (!o.engines().isEmpty() || o.runs() > 1) {
            out.printf(Locale.ROOT, "setups: %s, %d run(s) each, interleaved%n", IngestBench.setupsText(o.engines()), o.runs());
        }
        List<EngineSetup> setups = o.engines().isEmpty() ? java.util.Collections.singletonList(null) : o.engines();
        List<Outcome> outcomes = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int run = 1; run <= o.runs(); run++) {
            for (EngineSetup setup : setups) {
                String target = IngestBench.target(setup);
                out.printf(Locale.ROOT, "%nrun %d, %s (load average %s)%n", run, target, IngestBench.loadAverage());
                try {
                    outcomes.add(runOnce(o, setup, target, run, out));
                } catch (Exception e) {
                    problems.add(target + " run " + run + ": " + e.getMessage());
                    out.println("failed: " + e.getMessage());
                }
            }
        }
        if (!o.engines().isEmpty() || o.runs() > 1) {
            report(outcomes, o, out);
        }
        for (String p : problems) {
            out.println("PROBLEM: " + p);
        }
        return problems.isEmpty() ? 0 : 1;
    }

    private static Outcome runOnce(Options o, EngineSetup setup, String target, int run, PrintStream out) throws Exception {
        int rate = o.rate();
        int seconds = o.seconds();
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
        try (BenchEngines engines = BenchEngines.start(setup == null ? EngineSetup.EMBEDDED : setup, out);
             JunctionServer server = JunctionServer.start(config, "2g", setup == null ? List.of() : engines.configSections())) {
            List<Usage.Proc> procs = new ArrayList<>();
            procs.add(new Usage.Proc(IngestBench.SERVER, server.pid(), false));
            procs.add(new Usage.Proc(IngestBench.BENCH, ProcessHandle.current().pid(), false));
            procs.addAll(engines.processes());
            Usage usage = new Usage(procs);
            String token = server.token();
            post(server, token, "/api/modules", "{\"id\": \"virtual-1\", \"driver\": \"virtual\", \"name\": \"Virtual\"}");
            post(server, token, "/api/modules", "{\"id\": \"light-1\", \"driver\": \"bench-light\", \"name\": \"Light\"}");
            post(server, token, "/api/systems", "{\"id\": \"bench\", \"name\": \"Bench\", \"modules\": [\"virtual-1\", \"light-1\"]}");
            String ws = "ws://127.0.0.1:" + server.httpPort() + "/api/engine/v2/websocket?bearer_token=" + token;
            out.printf("server pid %d%n", server.pid());

            // Warm-up, the transport alone as the reference, then the two exec passes.
            execPass(ws, "Virtual", "echo", "[1]", rate, 3);
            Usage.Sample s0 = usage.sample();
            LatencyHistogram ping = pingPass(ws, rate, seconds);
            Usage.Sample s1 = usage.sample();
            out.printf("reference, the same socket without exec (text frame ping -> pong): %d frames, p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    ping.count(), ping.percentile(50) / 1000.0, ping.percentile(99) / 1000.0, ping.max() / 1000.0);
            LatencyHistogram virtual = execPass(ws, "Virtual", "echo", "[1]", rate, seconds);
            Usage.Sample s2 = usage.sample();
            out.printf("exec virtual module (echo): %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms   target p99 <= 2 ms%n",
                    virtual.count(), virtual.percentile(50) / 1000.0, virtual.percentile(99) / 1000.0, virtual.max() / 1000.0);
            out.printf("  inside the server (argument check to answer, junction_devices_exec): %s%n", serverExec(server, token));
            execPass(ws, "Light", "power", "[true]", rate, 2);
            Usage.Sample s3 = usage.sample();
            LatencyHistogram device = execPass(ws, "Light", "power", "[true]", rate, seconds);
            Usage.Sample s4 = usage.sample();
            out.printf("exec through a device (generic MQTT power -> durable command + publish): %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms   target p99 <= 10 ms%n",
                    device.count(), device.percentile(50) / 1000.0, device.percentile(99) / 1000.0, device.max() / 1000.0);

            out.printf("  inside the server (argument check to answer, junction_devices_exec): %s%n", serverExec(server, token));
            Measured echo = Measured.of(virtual, s1, s2, virtual.count());
            Measured dev = Measured.of(device, s3, s4, device.count());
            out.printf(Locale.ROOT, "  CPU per exec: echo server %s us%s; device server %s us%s%n",
                    Table.micros(echo.micros(IngestBench.SERVER)), engines(echo), Table.micros(dev.micros(IngestBench.SERVER)), engines(dev));

            FanOut fan = fanOut(ws, o.clients(), o.changes(), seconds, usage, out);
            Map<String, Long> memory = usage.memoryKb();
            return new Outcome(target, run, Measured.of(ping, s0, s1, ping.count()), echo, dev, fan, memory);
        } finally {
            Files.deleteIfExists(config);
        }
    }

    private static String engines(Measured m) {
        return Double.isNaN(m.engineMicros()) ? "" : " + engines " + Table.micros(m.engineMicros()) + " us";
    }

    /** Every run's figures, then (with several runs) each setup's medians, then each setup against the embedded one. */
    private static void report(List<Outcome> outcomes, Options o, PrintStream out) {
        if (outcomes.isEmpty()) {
            return;
        }
        boolean withEngines = outcomes.stream().anyMatch(x -> !Double.isNaN(x.device().engineMicros()));
        List<String> header = new ArrayList<>(List.of("target", "run", "ping p99", "echo p50", "echo p99", "device p50",
                "device p99", "server us/exec", "fan-out/s", "fan-out p50", "fan-out p99", "server RSS MB"));
        if (withEngines) {
            header.add(8, "engines us/exec");
            header.add("engines MB");
        }
        out.println();
        out.printf(Locale.ROOT, "summary (ms; us/exec: CPU per exec through a device, in its pass; fan-out: %d sockets x %d changes/s):%n",
                o.clients(), o.changes());
        Table t = new Table(header.toArray(new String[0]));
        for (Outcome x : outcomes) {
            t.add(row(x.target(), String.valueOf(x.run()), List.of(x), withEngines).toArray());
        }
        Map<String, List<Outcome>> bySetup = new java.util.LinkedHashMap<>();
        for (Outcome x : outcomes) {
            bySetup.computeIfAbsent(x.target(), k -> new ArrayList<>()).add(x);
        }
        if (o.runs() > 1) {
            for (Map.Entry<String, List<Outcome>> e : bySetup.entrySet()) {
                t.add(row(e.getKey(), "median", e.getValue(), withEngines).toArray());
            }
        }
        out.print(t.render());

        Table cpu = new Table("target", "pass", "runs", "server us", "kafka us", "redis us", "postgres us", "bench us", "machine busy");
        for (Map.Entry<String, List<Outcome>> e : bySetup.entrySet()) {
            List<Outcome> g = e.getValue();
            cpuRow(cpu, e.getKey(), "exec echo (per call)", g, Outcome::echo);
            cpuRow(cpu, e.getKey(), "exec device (per call)", g, Outcome::device);
            cpuRow(cpu, e.getKey(), "fan-out (per notify)", g, x -> x.fanOut().latency());
        }
        out.println();
        out.println("CPU (user + system, from /proc) per unit in each pass, medians over the runs; machine busy: all cores, other work included:");
        out.print(cpu.render());
        List<Outcome> embedded = bySetup.get(IngestBench.target(EngineSetup.EMBEDDED));
        for (Map.Entry<String, List<Outcome>> e : bySetup.entrySet()) {
            if (embedded == null || e.getValue() == embedded) {
                continue;
            }
            List<Outcome> g = e.getValue();
            double eP99 = med(embedded, x -> x.device().p99());
            double xP99 = med(g, x -> x.device().p99());
            double eCpu = med(embedded, x -> x.device().micros(IngestBench.SERVER));
            double xCpu = med(g, x -> x.device().micros(IngestBench.SERVER)) + nz(med(g, x -> x.device().engineMicros()));
            out.printf(Locale.ROOT, "%s vs embedded: exec through a device p99 %.2f -> %.2f ms, CPU per exec %s -> %s us (x%.2f);"
                            + " echo p99 %.2f -> %.2f ms; fan-out p99 %.2f -> %.2f ms%n",
                    e.getKey().substring("junction:".length()), eP99 / 1000, xP99 / 1000, Table.micros(eCpu), Table.micros(xCpu), xCpu / eCpu,
                    med(embedded, x -> x.echo().p99()) / 1000, med(g, x -> x.echo().p99()) / 1000,
                    med(embedded, x -> x.fanOut().latency().p99()) / 1000, med(g, x -> x.fanOut().latency().p99()) / 1000);
        }
    }

    private static double nz(double v) {
        return Double.isNaN(v) ? 0 : v;
    }

    private static List<Object> row(String target, String run, List<Outcome> g, boolean withEngines) {
        List<Object> r = new ArrayList<>(List.of(target, run,
                Table.ms(Math.round(med(g, x -> x.ping().p99()))),
                Table.ms(Math.round(med(g, x -> x.echo().p50()))),
                Table.ms(Math.round(med(g, x -> x.echo().p99()))),
                Table.ms(Math.round(med(g, x -> x.device().p50()))),
                Table.ms(Math.round(med(g, x -> x.device().p99()))),
                Table.micros(med(g, x -> x.device().micros(IngestBench.SERVER))),
                Table.rate(med(g, x -> x.fanOut().perSecond())),
                Table.ms(Math.round(med(g, x -> x.fanOut().latency().p50()))),
                Table.ms(Math.round(med(g, x -> x.fanOut().latency().p99()))),
                Table.mb(Math.round(med(g, x -> x.memoryKb().getOrDefault(IngestBench.SERVER, -1L))))));
        if (withEngines) {
            r.add(8, Table.micros(med(g, x -> x.device().engineMicros())));
            double mb = med(g, x -> x.engineMemoryKb() > 0 ? x.engineMemoryKb() : Double.NaN);
            r.add(Double.isNaN(mb) ? "-" : Table.mb(Math.round(mb)));
        }
        return r;
    }

    private static void cpuRow(Table t, String target, String pass, List<Outcome> g, java.util.function.Function<Outcome, Measured> m) {
        t.add(target, pass, g.size(),
                Table.micros(med(g, x -> m.apply(x).micros(IngestBench.SERVER))),
                Table.micros(med(g, x -> m.apply(x).micros("kafka"))),
                Table.micros(med(g, x -> m.apply(x).micros("redis"))),
                Table.micros(med(g, x -> m.apply(x).micros("postgres"))),
                Table.micros(med(g, x -> m.apply(x).micros(IngestBench.BENCH))),
                Table.percent(med(g, x -> m.apply(x).cost().machineBusyFraction())));
    }

    private static double med(List<Outcome> g, java.util.function.ToDoubleFunction<Outcome> f) {
        List<Double> v = new ArrayList<>();
        for (Outcome x : g) {
            v.add(f.applyAsDouble(x));
        }
        return Table.median(v);
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

    private static FanOut fanOut(String url, int clients, int changes, int seconds, Usage usage, PrintStream out)
            throws Exception {
        LatencyHistogram h = new LatencyHistogram();
        AtomicLong received = new AtomicLong();
        AtomicLong lastArrival = new AtomicLong();
        // change (its value) -> sockets that read it: tells changes never notified from notifies lost on the way
        Map<Long, AtomicLong> perChange = new ConcurrentHashMap<>();
        CountDownLatch bound = new CountDownLatch(clients);
        List<Client> sockets = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            // The server answers a bind before it has made the binding, then sends the current value once it has: only
            // that first notify says changes will reach this socket (on Redis, binding takes a round trip each).
            java.util.concurrent.atomic.AtomicBoolean live = new java.util.concurrent.atomic.AtomicBoolean();
            sockets.add(new Client(url, frame -> {
                // Read just what is needed, so that 100k frames/s on this shared machine measure the server, not Jackson.
                if (frame.startsWith(NOTIFY) && live.compareAndSet(false, true)) {
                    bound.countDown();
                }
                if (frame.startsWith(NOTIFY)) {
                    int from = NOTIFY.length();
                    String text = frame.substring(from, frame.indexOf('"', from));
                    long v = text.isEmpty() || !Character.isDigit(text.charAt(0)) ? 0 : Long.parseLong(text);
                    if (v > 0) {
                        long now = System.nanoTime();
                        synchronized (h) {
                            h.record((now - v) / 1000);
                        }
                        received.incrementAndGet();
                        lastArrival.accumulateAndGet(now, Math::max);
                        perChange.computeIfAbsent(v, k -> new AtomicLong()).incrementAndGet();
                    }
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
        AtomicLong answered = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        java.util.concurrent.atomic.AtomicReference<String> lastFailure = new java.util.concurrent.atomic.AtomicReference<>();
        Client setter = new Client(url, frame -> {
            answered.incrementAndGet();
            if (!JSON.readTree(frame).path("type").asText().equals("success")) {
                failed.incrementAndGet();
                lastFailure.set(frame);
            }
        });
        long total = (long) changes * seconds;
        Usage.Sample before = usage.sample();
        long start = System.nanoTime();
        paced(total, changes, i -> setter.send("{\"id\": " + i + ", \"cmd\": \"exec\", \"sys\": \"bench\", \"mod\": \"Virtual\", \"index\": 1, \"name\": \"set\", "
                    + "\"args\": {\"name\": \"level\", \"value\": " + System.nanoTime() + "}}"));
        long expected = total * clients;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while ((received.get() < expected || answered.get() < total) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        Usage.Sample after = usage.sample();
        // Up to the last notify read: a wait for notifies that never come must not lower the rate.
        double elapsed = (Math.max(lastArrival.get(), start + 1) - start) / 1e9;
        List<String> partialAt = perChange.entrySet().stream().filter(e -> e.getValue().get() < clients)
                .sorted(Map.Entry.comparingByKey())
                .map(e -> String.format(Locale.ROOT, "%.0f ms: %d", (e.getKey() - start) / 1e6, e.getValue().get())).toList();
        long partial = partialAt.size();
        out.printf("status fan-out: %d changes x %d bound sockets = %d notifies expected, %d delivered in %.1f s (%.0f notifies/s), "
                        + "p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                total, clients, expected, received.get(), elapsed, received.get() / elapsed,
                h.percentile(50) / 1000.0, h.percentile(99) / 1000.0, h.max() / 1000.0);
        if (received.get() < expected || failed.get() > 0 || answered.get() < total) {
            out.printf("  NOT ALL DELIVERED: %d of %d changes answered, %d failed%s; %d changes read by no socket, %d by only some%s%n",
                    answered.get(), total, failed.get(), lastFailure.get() == null ? "" : " (last: " + lastFailure.get() + ")",
                    total - perChange.size(), partial,
                    partial == 0 ? "" : " (requested at: sockets that read it) " + partialAt.subList(0, (int) Math.min(partial, 12)));
        }
        setter.close();
        sockets.forEach(Client::close);
        return new FanOut(expected, received.get(), received.get() / elapsed, Measured.of(h, before, after, received.get()));
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
