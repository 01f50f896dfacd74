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

    record Options(int devices, int seconds, List<Integer> qos, int payloadBytes, double rate, boolean reference,
                   boolean junction, Path junctionConfig, Path json, int window) {
    }

    private final Options o;
    private final PrintStream out;
    private final List<LoadRunner.Result> results = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
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
        out.printf(Locale.ROOT, "machine: %d cores, JDK %s; the load generator shares them with the server%n%n",
                Runtime.getRuntime().availableProcessors(), Runtime.version());
        // the subscriber gets an event loop of its own, so that busy publishers do not delay its PUBACKs
        try (MqttBenchClient client = new MqttBenchClient(); MqttBenchClient subscriberClient = new MqttBenchClient(1)) {
            if (o.junction()) {
                runJunction(client);
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

    private void runJunction(MqttBenchClient client) {
        out.println("starting Junction (child JVM, -Xmx2g) ...");
        long t = System.nanoTime();
        try (JunctionServer server = JunctionServer.start(o.junctionConfig() != null ? o.junctionConfig() : JunctionServer.spineOnlyConfig(), "2g")) {
            out.printf(Locale.ROOT, "Junction ready in %.1f s (MQTT port %d, HTTP port %d, pid %d)%n",
                    (System.nanoTime() - t) / 1e9, server.mqttPort(), server.httpPort(), server.pid());
            Receiver receiver = new Receiver();
            try (WsSubscriber ws = WsSubscriber.open(server.wsUrl(), "#", receiver, 0)) {
                LoadRunner runner = new LoadRunner(client, "127.0.0.1", server.mqttPort());
                LoadRunner.Result q1 = null;
                for (int qos : o.qos()) {
                    LoadRunner.Result r = pass(runner, spec("junction", qos, o.rate()), receiver, ws.dropped::get);
                    if (qos == 1) {
                        q1 = r;
                    }
                    if (!server.isAlive()) {
                        throw new IOException("the Junction server died during the QoS " + qos + " pass:\n" + server.logTail(40));
                    }
                }
                if (q1 != null && o.rate() <= 0 && q1.ackedPerSec() > 0) {
                    halfRate = q1.ackedPerSec() / 2;
                    pass(runner, spec("junction", 1, halfRate), receiver, ws.dropped::get);
                }
                if (ws.unparsed.get() > 0) {
                    out.println("note: " + ws.unparsed.get() + " WebSocket frames could not be read"
                            + (ws.lastError.get() != null ? " (last: " + ws.lastError.get() + ")" : ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            problems.add("junction: " + e.getMessage());
            out.println("Junction bench failed: " + e.getMessage());
        }
        out.println();
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
        out.printf(Locale.ROOT, "  %s QoS %d, %s ... ", spec.target(), spec.qos(),
                spec.rate() > 0 ? Table.rate(spec.rate()) + " msgs/s" : "max rate");
        out.flush();
        LoadRunner.Result r = runner.run(spec, receiver, drops);
        results.add(r);
        out.printf(Locale.ROOT, "%s msgs/s %s, %s delivered/s, p99 %s ms%s%n", Table.rate(r.throughput()),
                spec.qos() == 1 ? "acked" : "sent", Table.rate(r.deliveredPerSec()), Table.ms(r.p99()),
                r.error() != null ? "  [" + r.error() + "]" : "");
        if (r.error() != null) {
            problems.add(spec.target() + " QoS " + spec.qos() + ": " + r.error());
        }
        return r;
    }

    private void printReport() {
        if (results.isEmpty()) {
            out.println("no results");
            return;
        }
        Table t = new Table("target", "qos", "devices", "offered/s", "msgs/s acked", "msgs/s delivered",
                "p50 ms", "p99 ms", "max ms", "drops");
        for (LoadRunner.Result r : results) {
            LoadRunner.Spec s = r.spec();
            String drops = s.target().equals("junction")
                    ? r.dropsReported() + (r.missing() != r.dropsReported() ? " (" + r.missing() + " missing)" : "")
                    : r.missing() + " missing";
            t.add(s.target(), s.qos(), s.devices(), s.rate() > 0 ? Table.rate(s.rate()) : "max",
                    Table.rate(r.throughput()), Table.rate(r.deliveredPerSec()),
                    Table.ms(r.p50()), Table.ms(r.p99()), Table.ms(r.max()), drops);
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
        for (int qos : o.qos()) {
            LoadRunner.Result j = find("junction", qos, o.rate());
            LoadRunner.Result m = find("mosquitto", qos, o.rate());
            if (j != null && m != null && m.throughput() > 0) {
                out.printf(Locale.ROOT, "ratio junction/mosquitto, QoS %d acked throughput: %.2f%n", qos,
                        j.throughput() / m.throughput());
            }
        }
        if (halfRate != null) {
            LoadRunner.Result j = find("junction", 1, halfRate);
            LoadRunner.Result m = find("mosquitto", 1, halfRate);
            if (j != null) {
                double p99 = j.p99() / 1000.0;
                out.printf(Locale.ROOT, "half load (QoS 1, %s msgs/s): junction p99 %.2f ms (target <= %.0f ms: %s)%s%n",
                        Table.rate(halfRate), p99, HALF_LOAD_P99_TARGET_MS,
                        p99 <= HALF_LOAD_P99_TARGET_MS ? "met" : "NOT met",
                        m != null ? String.format(Locale.ROOT, ", mosquitto p99 %.2f ms", m.p99() / 1000.0) : "");
            } else if (m != null) {
                out.printf(Locale.ROOT, "half load (QoS 1, %s msgs/s): mosquitto p99 %.2f ms%n",
                        Table.rate(halfRate), m.p99() / 1000.0);
            }
        }
        for (String p : problems) {
            out.println("PROBLEM: " + p);
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
        root.put("conditions", cond);
        List<Map<String, Object>> rs = new ArrayList<>();
        for (LoadRunner.Result r : results) {
            rs.add(r.toJson());
        }
        root.put("results", rs);
        Map<String, Object> ratios = new LinkedHashMap<>();
        for (int qos : o.qos()) {
            LoadRunner.Result j = find("junction", qos, o.rate());
            LoadRunner.Result m = find("mosquitto", qos, o.rate());
            if (j != null && m != null && m.throughput() > 0) {
                ratios.put("qos" + qos, Math.round(j.throughput() / m.throughput() * 1000) / 1000.0);
            }
        }
        root.put("ratioJunctionToMosquitto", ratios);
        if (halfRate != null) {
            Map<String, Object> half = new LinkedHashMap<>();
            half.put("rate", Math.round(halfRate));
            LoadRunner.Result j = find("junction", 1, halfRate);
            LoadRunner.Result m = find("mosquitto", 1, halfRate);
            half.put("junctionP99Ms", j == null ? null : j.p99() / 1000.0);
            half.put("mosquittoP99Ms", m == null ? null : m.p99() / 1000.0);
            half.put("targetP99Ms", HALF_LOAD_P99_TARGET_MS);
            root.put("halfLoad", half);
        }
        root.put("problems", problems);
        if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
    }
}
