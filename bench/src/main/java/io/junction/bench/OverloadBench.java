package io.junction.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench overload}: measures Junction's maximum QoS 1 rate, then offers a multiple of it (half the devices QoS 0,
 * half QoS 1) for minutes with a deliberately slow WebSocket reader, and checks that the server stays up without
 * running out of memory, that no acknowledged message is missing from the raw stream, and that the live drops it
 * reports to the reader agree with its metrics.
 */
final class OverloadBench {

    static final long SLOW_READER_MICROS_PER_FRAME = 1000;
    static final int REPORT_EVERY_SECONDS = 10;

    record Options(long runSeconds, int devices, double factor, int calibrateSeconds, int payloadBytes,
                   int window, Path junctionConfig) {
    }

    private final Options o;
    private final PrintStream out;

    OverloadBench(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
    }

    int run() throws IOException {
        out.printf(Locale.ROOT, "overload bench: %d devices (half QoS 0, half QoS 1), %sx the measured max QoS 1 rate"
                        + " for %s, %d-byte payloads, one WebSocket reader on '#' sleeping %d us per frame%n",
                o.devices(), fmt(o.factor()), duration(o.runSeconds()), o.payloadBytes(), SLOW_READER_MICROS_PER_FRAME);
        out.println("starting Junction (child JVM, -Xmx2g) ...");
        List<String> lines = new ArrayList<>();
        boolean allPass;
        try (MqttBenchClient client = new MqttBenchClient();
             JunctionServer server = JunctionServer.start(o.junctionConfig() != null ? o.junctionConfig() : JunctionServer.spineOnlyConfig(), "2g")) {
            out.printf(Locale.ROOT, "Junction ready (MQTT port %d, HTTP port %d, pid %d)%n",
                    server.mqttPort(), server.httpPort(), server.pid());
            LoadRunner runner = new LoadRunner(client, "127.0.0.1", server.mqttPort());

            // 1. the max QoS 1 rate, with a fast reader
            double maxRate;
            Receiver fast = new Receiver();
            try (WsSubscriber ws = WsSubscriber.open(server.wsUrl(), "#", fast, 0)) {
                out.printf(Locale.ROOT, "measuring the max QoS 1 rate for %d s ... ", o.calibrateSeconds());
                out.flush();
                LoadRunner.Result r = runner.run(new LoadRunner.Spec("junction", 1, o.devices(), 0,
                        IngestBench.WARMUP_SECONDS, o.calibrateSeconds(), o.payloadBytes(), o.window()), fast, ws.dropped::get);
                maxRate = r.ackedPerSec();
                out.printf(Locale.ROOT, "%s msgs/s acked (p99 to WebSocket %s ms)%n", Table.rate(maxRate), Table.ms(r.p99()));
                if (r.error() != null || maxRate <= 0) {
                    throw new IOException("the calibration pass failed: " + (r.error() != null ? r.error() : "nothing was acked"));
                }
            }
            Net.sleep(2000);
            long metricBaseline = metricDrops(server);

            // 2. the overload
            double offered = maxRate * o.factor();
            double perDevice = offered / o.devices();
            int run = LoadRunner.nextRun();
            Receiver slow = new Receiver();
            slow.begin(run);
            slow.openWindow(System.nanoTime());
            BitSet[] acked = new BitSet[o.devices()];
            List<MqttConnection> q0 = new ArrayList<>();
            List<MqttConnection> q1 = new ArrayList<>();
            WsSubscriber ws = WsSubscriber.open(server.wsUrl(), "#", slow, SLOW_READER_MICROS_PER_FRAME);
            boolean died = false;
            try {
                List<MqttConnection> pubs = runner.connect(run, o.devices());
                try {
                    for (int i = 0; i < pubs.size(); i++) {
                        int qos = i % 2 == 0 ? 1 : 0;
                        MqttConnection.AckListener listener = null;
                        if (qos == 1) {
                            BitSet b = new BitSet();
                            acked[i] = b;
                            listener = (device, seq, sentAt, ackAt) -> b.set((int) seq);
                            q1.add(pubs.get(i));
                        } else {
                            q0.add(pubs.get(i));
                        }
                        pubs.get(i).start(new MqttConnection.Plan("bench/" + i + "/value", qos, o.payloadBytes(), run, i,
                                perDevice, qos == 1 ? o.window() : 1, listener));
                    }
                    out.printf(Locale.ROOT, "offering %s msgs/s (%s per device) for %s; every %d s:%n",
                            Table.rate(offered), Table.rate(perDevice), duration(o.runSeconds()), REPORT_EVERY_SECONDS);
                    long start = System.nanoTime();
                    long end = start + o.runSeconds() * 1_000_000_000L;
                    long prevT = start;
                    long prevQ0 = 0;
                    long prevQ1 = 0;
                    long prevAck = 0;
                    long prevWs = 0;
                    long prevDrop = 0;
                    long maxRss = 0;
                    while (System.nanoTime() < end) {
                        long next = Math.min(end, prevT + REPORT_EVERY_SECONDS * 1_000_000_000L);
                        while (System.nanoTime() < next) {
                            Net.sleep(Math.max(1, Math.min(200, (next - System.nanoTime()) / 1_000_000)));
                        }
                        long t = System.nanoTime();
                        double dt = (t - prevT) / 1e9;
                        long s0 = LoadRunner.sum(q0, MqttConnection::sent);
                        long s1 = LoadRunner.sum(q1, MqttConnection::sent);
                        long a1 = LoadRunner.sum(q1, MqttConnection::acked);
                        long w = ws.messages.get();
                        long d = ws.dropped.get();
                        long rss = server.rssKb();
                        long m = metricDrops(server);
                        maxRss = Math.max(maxRss, rss);
                        String row = String.format(Locale.ROOT, "%5.0fs", (t - start) / 1e9);
                        out.print(progressLine(row, Table.rate(offered), Table.rate((s0 + s1 - prevQ0 - prevQ1) / dt),
                                Table.rate((s0 - prevQ0) / dt), Table.rate((s1 - prevQ1) / dt),
                                Table.rate((a1 - prevAck) / dt), Table.rate((w - prevWs) / dt),
                                rss < 0 ? "?" : String.valueOf(rss / 1024), String.format(Locale.ROOT, "+%,d", d - prevDrop),
                                String.format(Locale.ROOT, "%,d", d),
                                m < 0 || metricBaseline < 0 ? "?" : String.format(Locale.ROOT, "%,d", m - metricBaseline)));
                        prevT = t;
                        prevQ0 = s0;
                        prevQ1 = s1;
                        prevAck = a1;
                        prevWs = w;
                        prevDrop = d;
                        if (!server.isAlive()) {
                            died = true;
                            out.println("the Junction server died:\n" + server.logTail(40));
                            break;
                        }
                    }
                    pubs.forEach(MqttConnection::stop);
                    for (MqttConnection c : q1) {
                        c.awaitAcks(Duration.ofSeconds(30));
                    }
                    long totalQ0 = LoadRunner.sum(q0, MqttConnection::sent);
                    long totalQ1 = LoadRunner.sum(q1, MqttConnection::sent);
                    long totalAck = LoadRunner.sum(q1, MqttConnection::acked);
                    long skipped = LoadRunner.sum(pubs, MqttConnection::skipped);
                    out.printf(Locale.ROOT, "sent %,d QoS 0 and %,d QoS 1 messages, %,d acked; %,d offered messages could"
                                    + " not be sent in time (socket or QoS 1 window full); max server RSS %,d MB%n",
                            totalQ0, totalQ1, totalAck, skipped, maxRss / 1024);
                } finally {
                    pubs.forEach(MqttConnection::close);
                }

                // let the slow reader catch up so that every drop has been reported to it
                out.print("waiting for the slow WebSocket reader to catch up ... ");
                out.flush();
                long deadline = System.nanoTime() + 120_000_000_000L;
                while (!died && System.nanoTime() < deadline && ws.isOpen()
                        && System.nanoTime() - ws.lastFrameNanos() < 3_000_000_000L) {
                    Net.sleep(200);
                }
                out.printf(Locale.ROOT, "done (%,d messages and %,d drop reports read)%n", ws.messages.get(), ws.droppedFrames.get());
            } finally {
                ws.close();
            }
            long wsDrops = ws.dropped.get();

            // 3. checks
            boolean alive = !died && server.isHealthy();
            lines.add(passFail(alive, "server alive and healthy after the run"));
            boolean oom = server.logContains("OutOfMemoryError");
            lines.add(passFail(!oom, "no OutOfMemoryError in the server log"));

            long metric = alive ? metricDrops(server) : -1;
            boolean dropsAgree;
            String dropDetail;
            if (metric < 0 || metricBaseline < 0) {
                dropsAgree = false;
                dropDetail = "the server's /metrics could not be read; the WebSocket reported " + wsDrops;
            } else if (wsDrops > 0 && !metricPresent(server)) {
                dropsAgree = false;
                dropDetail = "the server's /metrics has no junction_live_dropped line; the WebSocket reported " + wsDrops;
            } else {
                long delta = metric - metricBaseline;
                dropsAgree = delta == wsDrops;
                dropDetail = String.format(Locale.ROOT, "/metrics junction_live_dropped %,d (of which %,d during the overload)"
                        + ", WebSocket reported %,d%s", metric, delta, wsDrops, wsDrops == 0 ? " (no live drops happened)" : "");
            }

            if (alive) {
                out.println("reading the raw stream to find every acknowledged QoS 1 message ...");
                long t = System.nanoTime();
                RawStreamCheck.Result r = RawStreamCheck.check(server.baseUrl(), server.token(), run, acked, out);
                out.printf(Locale.ROOT, "read %,d messages in %,d pages (%.1f s): %,d of this run, %,d acked ones found, %,d"
                                + " unacknowledged QoS 1 or duplicates%n", r.messages(), r.pages(),
                        (System.nanoTime() - t) / 1e9, r.runMessages(), r.found(), r.notAcked());
                lines.add(passFail(r.lost() == 0, String.format(Locale.ROOT, "no acked message lost (%,d acked QoS 1 messages"
                        + " checked, %,d missing%s)", r.found() + r.lost(), r.lost(),
                        r.examples().isEmpty() ? "" : ", e.g. " + String.join(", ", r.examples()))));
            } else {
                lines.add(passFail(false, "no acked message lost (not checked: the server is not up)"));
            }
            lines.add(passFail(dropsAgree, "drops counted: " + dropDetail));
            allPass = lines.stream().allMatch(l -> l.startsWith("PASS"));
        }
        out.println();
        lines.forEach(out::println);
        return allPass ? 0 : 1;
    }

    private static String progressLine(String... cells) {
        return "  " + String.join("  ", List.of(
                cells[0], "offered " + cells[1], "sent " + cells[2] + " (q0 " + cells[3] + ", q1 " + cells[4] + ")",
                "acked " + cells[5], "ws " + cells[6] + " msgs/s", "rss " + cells[7] + " MB",
                "dropped " + cells[8] + " (total " + cells[9] + "; server metric " + cells[10] + ")")) + "\n";
    }

    private static String passFail(boolean ok, String what) {
        return (ok ? "PASS " : "FAIL ") + what;
    }

    /**
     * The sum of every {@code junction_live_dropped*} sample of {@code /metrics} (0 when there is none yet); -1 when
     * {@code /metrics} cannot be read.
     */
    static long metricDrops(JunctionServer server) {
        try {
            HttpResponse<String> r = Net.get(server.baseUrl() + "/metrics", Duration.ofSeconds(10));
            if (r.statusCode() != 200) {
                return -1;
            }
            return Math.max(0, sumMetric(r.body(), "junction_live_dropped"));
        } catch (IOException e) {
            return -1;
        }
    }

    private static boolean metricPresent(JunctionServer server) {
        try {
            HttpResponse<String> r = Net.get(server.baseUrl() + "/metrics", Duration.ofSeconds(10));
            return r.statusCode() == 200 && sumMetric(r.body(), "junction_live_dropped") >= 0;
        } catch (IOException e) {
            return false;
        }
    }

    static long sumMetric(String text, String prefix) {
        double sum = 0;
        boolean any = false;
        for (String line : text.split("\\R")) {
            if (!line.startsWith(prefix)) {
                continue;
            }
            int close = line.lastIndexOf('}');
            String rest = close >= 0 ? line.substring(close + 1) : line.substring(line.indexOf(' ') + 1);
            String[] parts = rest.trim().split("\\s+");
            try {
                sum += Double.parseDouble(parts[0]);
                any = true;
            } catch (NumberFormatException ignored) {
                // not a sample line
            }
        }
        return any ? Math.round(sum) : -1;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    private static String duration(long seconds) {
        return seconds % 60 == 0 ? (seconds / 60) + " min" : seconds + " s";
    }
}
