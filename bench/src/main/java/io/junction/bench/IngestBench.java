package io.junction.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code bench ingest}: Junction's ingest throughput and publish-to-WebSocket latency, side by side with the same
 * load through a plain Mosquitto, and the latency at half of Junction's maximum QoS 1 rate.
 */
final class IngestBench {

    static final int WARMUP_SECONDS = 2;
    static final int QOS1_WINDOW = 64;
    static final int QOS0_WINDOW = 1;
    static final double HALF_LOAD_P99_TARGET_MS = 5.0;

    /**
     * @param engines the setups to run Junction on, in order ({@code --engines}); empty = the config as given, one
     *                target called {@code junction}
     * @param runs    how many times the setups are run, interleaved (embedded, engines, embedded, engines, ...)
     */
    record Options(int devices, int seconds, List<Integer> qos, int payloadBytes, double rate, boolean reference,
                   boolean junction, Path junctionConfig, Path json, int window, List<EngineSetup> engines, int runs) {
        Options {
            engines = List.copyOf(engines);
        }

        Options(int devices, int seconds, List<Integer> qos, int payloadBytes, double rate, boolean reference,
                boolean junction, Path junctionConfig, Path json, int window) {
            this(devices, seconds, qos, payloadBytes, rate, reference, junction, junctionConfig, json, window, List.of(), 1);
        }
    }

    /** One pass of Junction with what it cost: CPU in the measured window, memory at its end. */
    record Pass(String target, int run, LoadRunner.Result result, Usage.Cost cost, Map<String, Long> memoryKb) {

        /** The messages the window counted: acked (QoS 1) or sent (QoS 0). */
        double messages() {
            return result.throughput() * result.seconds();
        }

        double micros(String process) {
            return cost == null ? Double.NaN : cost.microsPer(process, messages());
        }

        /** The engines' CPU per message, all of them together (NaN for the embedded setup). */
        double engineMicros() {
            if (cost == null) {
                return Double.NaN;
            }
            boolean engines = cost.cpuSeconds().keySet().stream().anyMatch(k -> !k.equals(SERVER) && !k.equals(BENCH));
            return engines ? cost.cpuSecondsExcept(List.of(SERVER, BENCH)) * 1e6 / messages() : Double.NaN;
        }

        long engineMemoryKb() {
            long sum = 0;
            for (Map.Entry<String, Long> e : memoryKb.entrySet()) {
                if (!e.getKey().equals(SERVER) && !e.getKey().equals(BENCH) && e.getValue() > 0) {
                    sum += e.getValue();
                }
            }
            return sum;
        }
    }

    static final String SERVER = "server";
    static final String BENCH = "bench";

    private final Options o;
    private final PrintStream out;
    private final List<LoadRunner.Result> results = new ArrayList<>();
    private final List<Pass> passes = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> loads = new ArrayList<>();
    private Double halfRate;

    IngestBench(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
    }

    int run() throws IOException {
        out.printf(Locale.ROOT, "ingest bench: %d devices, QoS %s, %d-byte payloads, %s, %d s per pass after a %d s warm-up%n",
                o.devices(), o.qos().size() == 2 ? "0 and 1" : o.qos().get(0), o.payloadBytes(),
                o.rate() > 0 ? Table.rate(o.rate()) + " msgs/s in total" : "as fast as possible (QoS 1 window "
                        + o.window() + " per connection)", o.seconds(), WARMUP_SECONDS);
        out.printf(Locale.ROOT, "machine: %d cores, JDK %s; the load generator shares them with the server%s%n",
                Runtime.getRuntime().availableProcessors(), Runtime.version(),
                o.engines().isEmpty() ? "" : " and the engines");
        if (!o.engines().isEmpty() || o.runs() > 1) {
            out.printf(Locale.ROOT, "setups: %s, %d run(s) each, interleaved%n", setupsText(o.engines()), o.runs());
        }
        out.println("load average: " + loadAverage());
        out.println();
        // the subscriber gets an event loop of its own, so that busy publishers do not delay its PUBACKs
        try (MqttBenchClient client = new MqttBenchClient(); MqttBenchClient subscriberClient = new MqttBenchClient(1)) {
            if (o.junction()) {
                List<EngineSetup> setups = o.engines().isEmpty() ? java.util.Collections.singletonList(null) : o.engines();
                for (int run = 1; run <= o.runs(); run++) {
                    for (EngineSetup setup : setups) {
                        runJunction(client, setup, run);
                    }
                }
            }
            if (o.reference()) {
                runMosquitto(client, subscriberClient);
            }
        }
        printReport();
        if (o.json() != null) {
            writeJson(o.json());
            out.println("JSON written to " + o.json().toAbsolutePath());
        }
        return problems.isEmpty() ? 0 : 1;
    }

    private LoadRunner.Spec spec(String target, int qos, double rate) {
        return new LoadRunner.Spec(target, qos, o.devices(), rate, WARMUP_SECONDS, o.seconds(), o.payloadBytes(),
                qos == 1 ? o.window() : QOS0_WINDOW);
    }

    /** {@code junction} without {@code --engines}, else {@code junction:<setup>}. */
    static String target(EngineSetup setup) {
        return setup == null ? "junction" : "junction:" + setup.label();
    }

    static String setupsText(List<EngineSetup> setups) {
        List<String> labels = new ArrayList<>();
        for (EngineSetup s : setups) {
            labels.add(s.label());
        }
        return labels.isEmpty() ? "the config as given" : String.join(", ", labels);
    }

    /** The 1, 5 and 15 minute load averages ({@code /proc/loadavg}): the machine is shared, so figures need them. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private void runJunction(MqttBenchClient client, EngineSetup setup, int run) {
        String target = target(setup);
        String load = loadAverage();
        loads.add(target + " run " + run + ": " + load);
        out.printf(Locale.ROOT, "run %d, %s (load average %s)%n", run, target, load);
        long t = System.nanoTime();
        Path base;
        try {
            base = o.junctionConfig() != null ? o.junctionConfig() : JunctionServer.spineOnlyConfig();
        } catch (IOException e) {
            problems.add(target + ": " + e.getMessage());
            return;
        }
        try (BenchEngines engines = BenchEngines.start(setup == null ? EngineSetup.EMBEDDED : setup, out)) {
            out.println("starting Junction (child JVM, -Xmx2g) ...");
            List<String[]> sections = setup == null ? List.of() : engines.configSections();
            try (JunctionServer server = JunctionServer.start(base, "2g", sections)) {
                out.printf(Locale.ROOT, "Junction ready in %.1f s (MQTT port %d, HTTP port %d, pid %d)%n",
                        (System.nanoTime() - t) / 1e9, server.mqttPort(), server.httpPort(), server.pid());
                List<Usage.Proc> procs = new ArrayList<>();
                procs.add(new Usage.Proc(SERVER, server.pid(), false));
                procs.add(new Usage.Proc(BENCH, ProcessHandle.current().pid(), false));
                procs.addAll(engines.processes());
                measure(client, server, new Usage(procs), target, run);
            }
        } catch (IOException | RuntimeException e) {
            problems.add(target + ": " + e.getMessage());
            out.println("Junction bench failed: " + e.getMessage());
        }
        out.println();
    }

    /** The passes on one running server: each QoS at --rate (or as fast as possible), then QoS 1 at half of its max. */
    private void measure(MqttBenchClient client, JunctionServer server, Usage usage, String target, int run) throws IOException {
        Receiver receiver = new Receiver();
        try (WsSubscriber ws = WsSubscriber.open(server.wsUrl(), "#", receiver, 0)) {
            LoadRunner runner = new LoadRunner(client, "127.0.0.1", server.mqttPort());
            LoadRunner.Result q1 = null;
            for (int qos : o.qos()) {
                LoadRunner.Result r = pass(runner, spec(target, qos, o.rate()), receiver, ws.dropped::get, usage, run);
                if (qos == 1) {
                    q1 = r;
                }
                if (!server.isAlive()) {
                    throw new IOException("the Junction server died during the QoS " + qos + " pass:\n" + server.logTail(40));
                }
            }
            if (q1 != null && o.rate() <= 0 && q1.ackedPerSec() > 0) {
                double half = q1.ackedPerSec() / 2;
                if (halfRate == null) {
                    halfRate = half;   // the Mosquitto reference's half-load pass runs at the first one's
                }
                pass(runner, spec(target, 1, half), receiver, ws.dropped::get, usage, run);
            }
            if (ws.unparsed.get() > 0) {
                out.println("note: " + ws.unparsed.get() + " WebSocket frames could not be read"
                        + (ws.lastError.get() != null ? " (last: " + ws.lastError.get() + ")" : ""));
            }
        }
    }

    private void runMosquitto(MqttBenchClient client, MqttBenchClient subscriberClient) {
        Optional<Path> exe = Mosquitto.find();
        if (exe.isEmpty()) {
            out.println("reference skipped: mosquitto is not on PATH (install it with 'apt-get install mosquitto')");
            out.println();
            return;
        }
        out.println("starting the Mosquitto reference (" + exe.get() + ") ...");
        try (Mosquitto m = Mosquitto.start(exe.get())) {
            out.println("Mosquitto ready (port " + m.port() + ", pid " + m.pid() + ")");
            LoadRunner runner = new LoadRunner(client, "127.0.0.1", m.port());
            LoadRunner.Result q1 = null;
            for (int qos : o.qos()) {
                LoadRunner.Result r = mosquittoPass(subscriberClient, runner, m, spec("mosquitto", qos, o.rate()));
                if (qos == 1) {
                    q1 = r;
                }
            }
            if (halfRate == null && q1 != null && o.rate() <= 0 && q1.ackedPerSec() > 0) {
                halfRate = q1.ackedPerSec() / 2;   // no Junction figure: half of Mosquitto's own
            }
            if (halfRate != null && o.qos().contains(1)) {
                mosquittoPass(subscriberClient, runner, m, spec("mosquitto", 1, halfRate));
            }
        } catch (IOException | RuntimeException e) {
            problems.add("mosquitto: " + e.getMessage());
            out.println("Mosquitto reference failed: " + e.getMessage());
        }
        out.println();
    }

    private LoadRunner.Result mosquittoPass(MqttBenchClient client, LoadRunner runner, Mosquitto m, LoadRunner.Spec spec) {
        Receiver receiver = new Receiver();
        Payload p = new Payload();   // used only on the subscriber's event loop
        MqttConnection sub = client.connect("127.0.0.1", m.port(), "bench-sub-" + LoadRunner.nextRun(),
                (topic, payload) -> {
                    if (p.parse(payload)) {
                        receiver.onSample(p);
                    }
                }).join();
        try {
            sub.subscribe("bench/#", spec.qos()).join();
            return pass(runner, spec, receiver, () -> 0);
        } finally {
            sub.close();
        }
    }

    private LoadRunner.Result pass(LoadRunner runner, LoadRunner.Spec spec, Receiver receiver,
                                   java.util.function.LongSupplier drops) {
        return pass(runner, spec, receiver, drops, null, 0);
    }

    /** A pass; with {@code usage}, what the watched processes used in its measured window is kept as a {@link Pass}. */
    private LoadRunner.Result pass(LoadRunner runner, LoadRunner.Spec spec, Receiver receiver,
                                   java.util.function.LongSupplier drops, Usage usage, int run) {
        out.printf(Locale.ROOT, "  %s QoS %d, %s ... ", spec.target(), spec.qos(),
                spec.rate() > 0 ? Table.rate(spec.rate()) + " msgs/s" : "max rate");
        out.flush();
        Usage.Sample[] edges = new Usage.Sample[2];
        LoadRunner.Result r = usage == null
                ? runner.run(spec, receiver, drops)
                : runner.run(spec, receiver, drops, () -> edges[0] = usage.sample(), () -> edges[1] = usage.sample());
        results.add(r);
        String cost = "";
        if (usage != null && edges[0] != null && edges[1] != null) {
            Pass p = new Pass(spec.target(), run, r, Usage.between(edges[0], edges[1]), usage.memoryKb());
            passes.add(p);
            cost = String.format(Locale.ROOT, ", server %s us/msg%s", Table.micros(p.micros(SERVER)),
                    Double.isNaN(p.engineMicros()) ? "" : ", engines " + Table.micros(p.engineMicros()) + " us/msg");
        }
        out.printf(Locale.ROOT, "%s msgs/s %s, %s delivered/s, p99 %s ms%s%s%n", Table.rate(r.throughput()),
                spec.qos() == 1 ? "acked" : "sent", Table.rate(r.deliveredPerSec()), Table.ms(r.p99()), cost,
                r.error() != null ? "  [" + r.error() + "]" : "");
        if (r.error() != null) {
            problems.add(spec.target() + " QoS " + spec.qos() + ": " + r.error());
        }
        return r;
    }

    private void printReport() {
        if (results.isEmpty()) {
            out.println("no results");
            printProblems();
            return;
        }
        boolean runs = o.runs() > 1;
        Table t = runs
                ? new Table("target", "run", "qos", "devices", "offered/s", "msgs/s acked", "msgs/s delivered",
                        "p50 ms", "p99 ms", "max ms", "drops")
                : new Table("target", "qos", "devices", "offered/s", "msgs/s acked", "msgs/s delivered",
                        "p50 ms", "p99 ms", "max ms", "drops");
        for (LoadRunner.Result r : results) {
            LoadRunner.Spec s = r.spec();
            String drops = s.target().startsWith("junction")
                    ? r.dropsReported() + (r.missing() != r.dropsReported() ? " (" + r.missing() + " missing)" : "")
                    : r.missing() + " missing";
            List<Object> row = new ArrayList<>(List.of(s.target()));
            if (runs) {
                Pass p = passOf(r);
                row.add(p == null ? "-" : p.run());
            }
            row.addAll(List.of(s.qos(), s.devices(), s.rate() > 0 ? Table.rate(s.rate()) : "max",
                    Table.rate(r.throughput()), Table.rate(r.deliveredPerSec()),
                    Table.ms(r.p50()), Table.ms(r.p99()), Table.ms(r.max()), drops));
            t.add(row.toArray());
        }
        out.print(t.render());
        out.println("msgs/s acked: PUBACKs per second for QoS 1, publishes sent per second for QoS 0. Latency: publish"
                + " -> WebSocket frame (junction) or -> subscriber (mosquitto), messages published in the window.");
        out.println("drops: junction = dropped counts the server reported on the WebSocket; 'missing' = published"
                + " (QoS 1: acked) but never delivered to the subscriber.");
        if (o.qos().contains(0) && o.rate() <= 0) {
            out.println("QoS 0 at max rate: the publishers outrun the broker, so the latency includes the time messages"
                    + " wait in the TCP buffers; use --rate for QoS 0 latency.");
        }
        if (!passes.isEmpty()) {
            out.println();
            printCost(runs);
        }
        if (runs && !passes.isEmpty()) {
            out.println();
            printMedians();
        }
        printComparisons();
        printProblems();
    }

    private void printProblems() {
        for (String p : problems) {
            out.println("PROBLEM: " + p);
        }
    }

    private Pass passOf(LoadRunner.Result r) {
        for (Pass p : passes) {
            if (p.result() == r) {
                return p;
            }
        }
        return null;
    }

    /** The engines that any pass watched, in the order kafka, redis, postgres. */
    private List<String> engineNames() {
        List<String> names = new ArrayList<>();
        for (String e : List.of("kafka", "redis", "postgres")) {
            for (Pass p : passes) {
                if (p.memoryKb().containsKey(e) && !names.contains(e)) {
                    names.add(e);
                }
            }
        }
        return names;
    }

    /** CPU per message of every process in each pass's measured window, and memory at its end. */
    private void printCost(boolean runs) {
        List<String> engines = engineNames();
        List<String> header = new ArrayList<>(List.of("target"));
        if (runs) {
            header.add("run");
        }
        header.addAll(List.of("qos", "offered/s", "msgs/s", "server us/msg"));
        if (!engines.isEmpty()) {
            header.add("engines us/msg");
            for (String e : engines) {
                header.add(e + " us/msg");
            }
        }
        header.addAll(List.of("bench us/msg", "machine busy", "server RSS MB"));
        if (!engines.isEmpty()) {
            header.add("engines MB");
        }
        Table t = new Table(header.toArray(new String[0]));
        for (Pass p : passes) {
            LoadRunner.Spec s = p.result().spec();
            List<Object> row = new ArrayList<>(List.of(p.target()));
            if (runs) {
                row.add(p.run());
            }
            row.addAll(List.of(s.qos(), s.rate() > 0 ? Table.rate(s.rate()) : "max", Table.rate(p.result().throughput()),
                    Table.micros(p.micros(SERVER))));
            if (!engines.isEmpty()) {
                row.add(Table.micros(p.engineMicros()));
                for (String e : engines) {
                    row.add(Table.micros(p.micros(e)));
                }
            }
            row.addAll(List.of(Table.micros(p.micros(BENCH)), Table.percent(p.cost().machineBusyFraction()),
                    Table.mb(p.memoryKb().getOrDefault(SERVER, -1L))));
            if (!engines.isEmpty()) {
                row.add(p.engineMemoryKb() > 0 ? Table.mb(p.engineMemoryKb()) : "-");
            }
            t.add(row.toArray());
        }
        out.print(t.render());
        out.println("us/msg: CPU time (user + system, from /proc) in the measured window / messages acked (QoS 1) or sent"
                + " (QoS 0)." + (engines.isEmpty() ? "" : " engines = kafka + redis + postgres (with its backends).")
                + " bench = the load generator and subscriber. machine busy: all cores, other work on the machine included.");
        out.println("RSS MB at the end of the pass" + (engines.contains("postgres") ? "; for postgres, the PSS of the"
                + " postmaster and its backends (shared buffers counted once)." : "."));
    }

    /** The passes grouped by target, QoS and kind of rate (max, half of max, or --rate), in the order first run. */
    private Map<String, List<Pass>> groups() {
        Map<String, List<Pass>> g = new LinkedHashMap<>();
        for (Pass p : passes) {
            g.computeIfAbsent(p.target() + "|" + p.result().spec().qos() + "|" + kind(p.result().spec()),
                    k -> new ArrayList<>()).add(p);
        }
        return g;
    }

    private String kind(LoadRunner.Spec s) {
        return o.rate() > 0 ? Table.rate(s.rate()) : s.rate() > 0 ? "half max" : "max";
    }

    private void printMedians() {
        List<String> engines = engineNames();
        List<String> header = new ArrayList<>(List.of("target", "qos", "offered/s", "runs", "msgs/s", "p50 ms", "p99 ms",
                "server us/msg"));
        if (!engines.isEmpty()) {
            header.add("engines us/msg");
        }
        header.addAll(List.of("machine busy", "server RSS MB"));
        if (!engines.isEmpty()) {
            header.add("engines MB");
        }
        Table t = new Table(header.toArray(new String[0]));
        for (List<Pass> g : groups().values()) {
            Pass first = g.getFirst();
            List<Object> row = new ArrayList<>(List.of(first.target(), first.result().spec().qos(),
                    kind(first.result().spec()), g.size(),
                    Table.rate(median(g, p -> p.result().throughput())),
                    Table.ms(Math.round(median(g, p -> p.result().p50()))),
                    Table.ms(Math.round(median(g, p -> p.result().p99()))),
                    Table.micros(median(g, p -> p.micros(SERVER)))));
            if (!engines.isEmpty()) {
                row.add(Table.micros(median(g, Pass::engineMicros)));
            }
            row.addAll(List.of(Table.percent(median(g, p -> p.cost().machineBusyFraction())),
                    Table.mb(Math.round(median(g, p -> p.memoryKb().getOrDefault(SERVER, -1L))))));
            if (!engines.isEmpty()) {
                double mb = median(g, p -> p.engineMemoryKb() > 0 ? p.engineMemoryKb() : Double.NaN);
                row.add(Double.isNaN(mb) ? "-" : Table.mb(Math.round(mb)));
            }
            t.add(row.toArray());
        }
        out.println("medians over the runs (each figure's own median):");
        out.print(t.render());
    }

    static double median(List<Pass> g, java.util.function.ToDoubleFunction<Pass> f) {
        List<Double> v = new ArrayList<>();
        for (Pass p : g) {
            v.add(f.applyAsDouble(p));
        }
        return Table.median(v);
    }

    private List<Pass> group(String target, int qos, String kind) {
        List<Pass> g = groups().get(target + "|" + qos + "|" + kind);
        return g == null ? List.of() : g;
    }

    /** Junction against Mosquitto, each setup against the embedded one, and the half-load latency. */
    private void printComparisons() {
        List<String> targets = new ArrayList<>();
        for (Pass p : passes) {
            if (!targets.contains(p.target())) {
                targets.add(p.target());
            }
        }
        String top = o.rate() > 0 ? Table.rate(o.rate()) : "max";
        for (int qos : o.qos()) {
            LoadRunner.Result m = find("mosquitto", qos, o.rate());
            for (String target : targets) {
                List<Pass> g = group(target, qos, top);
                if (m != null && m.throughput() > 0 && !g.isEmpty()) {
                    out.printf(Locale.ROOT, "ratio %s/mosquitto, QoS %d acked throughput: %.2f%n", target, qos,
                            median(g, p -> p.result().throughput()) / m.throughput());
                }
            }
        }
        String embedded = target(EngineSetup.EMBEDDED);
        for (String target : targets) {
            if (target.equals(embedded) || !targets.contains(embedded)) {
                continue;
            }
            for (int qos : o.qos()) {
                List<Pass> e = group(embedded, qos, top);
                List<Pass> x = group(target, qos, top);
                if (e.isEmpty() || x.isEmpty()) {
                    continue;
                }
                double eCpu = median(e, p -> p.micros(SERVER));
                double xCpu = median(x, p -> p.micros(SERVER));
                double xEng = median(x, Pass::engineMicros);
                out.printf(Locale.ROOT, "%s vs embedded, QoS %d %s: throughput x%.2f, p99 x%.2f, CPU per message %s -> %s us"
                                + " (server %s + engines %s): x%.2f%n",
                        target.substring("junction:".length()), qos, top,
                        median(x, p -> p.result().throughput()) / median(e, p -> p.result().throughput()),
                        median(x, p -> p.result().p99()) / median(e, p -> p.result().p99()),
                        Table.micros(eCpu), Table.micros(xCpu + (Double.isNaN(xEng) ? 0 : xEng)),
                        Table.micros(xCpu), Table.micros(xEng), (xCpu + (Double.isNaN(xEng) ? 0 : xEng)) / eCpu);
            }
        }
        if (o.rate() <= 0 && o.qos().contains(1)) {
            for (String target : targets) {
                List<Pass> g = group(target, 1, "half max");
                if (g.isEmpty()) {
                    continue;
                }
                double p99 = median(g, p -> p.result().p99()) / 1000.0;
                out.printf(Locale.ROOT, "half load (QoS 1, %s msgs/s): %s p99 %.2f ms (target <= %.0f ms: %s)%n",
                        Table.rate(median(g, p -> p.result().spec().rate())), target, p99, HALF_LOAD_P99_TARGET_MS,
                        p99 <= HALF_LOAD_P99_TARGET_MS ? "met" : "NOT met");
            }
            if (halfRate != null) {
                LoadRunner.Result m = find("mosquitto", 1, halfRate);
                if (m != null) {
                    out.printf(Locale.ROOT, "half load (QoS 1, %s msgs/s): mosquitto p99 %.2f ms%n",
                            Table.rate(halfRate), m.p99() / 1000.0);
                }
            }
        }
    }

    private LoadRunner.Result find(String target, int qos, double rate) {
        for (LoadRunner.Result r : results) {
            if (r.spec().target().equals(target) && r.spec().qos() == qos && r.spec().rate() == rate) {
                return r;
            }
        }
        return null;
    }

    private void writeJson(Path file) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("bench", "ingest");
        root.put("time", Instant.now().toString());
        Map<String, Object> cond = new LinkedHashMap<>();
        cond.put("devices", o.devices());
        cond.put("seconds", o.seconds());
        cond.put("warmupSeconds", WARMUP_SECONDS);
        cond.put("qos", o.qos());
        cond.put("payloadBytes", o.payloadBytes());
        cond.put("rate", o.rate());
        cond.put("qos1Window", o.window());
        cond.put("cores", Runtime.getRuntime().availableProcessors());
        cond.put("jdk", Runtime.version().toString());
        cond.put("setups", setupsText(o.engines()));
        cond.put("runs", o.runs());
        cond.put("loadAverages", loads);
        root.put("conditions", cond);
        List<Map<String, Object>> rs = new ArrayList<>();
        for (LoadRunner.Result r : results) {
            Map<String, Object> m = r.toJson();
            Pass p = passOf(r);
            if (p != null) {
                m.put("run", p.run());
                m.put("cost", p.cost().toJson(p.messages()));
                m.put("memoryKb", p.memoryKb());
            }
            rs.add(m);
        }
        root.put("results", rs);
        root.put("problems", problems);
        if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
    }
}
