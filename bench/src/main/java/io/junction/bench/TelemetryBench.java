package io.junction.bench;

import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Fn;
import io.junction.core.telemetry.Maintenance;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.RetentionRule;
import io.junction.core.telemetry.SeriesFilter;
import io.junction.core.telemetry.SeriesKey;
import io.junction.core.telemetry.Tags;
import io.junction.core.telemetry.TelemetryReader;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TimeSpans;
import io.junction.scaleout.postgres.PostgresTelemetryStore;
import io.junction.store.telemetry.SqliteTelemetryStore;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * {@code bench telemetry}: how fast the telemetry store takes batched points over many series, how fast 1-minute
 * means over 24 hours come back (one series, and many), how many bytes a point takes on disk, and one pass of line
 * protocol over HTTP into a Junction server started as a child process. The store passes run in this JVM on the
 * adapters themselves, the way the server drives them; PostgreSQL is measured too when given a URL.
 */
final class TelemetryBench {

    static final double WRITE_TARGET = 500_000;
    static final double QUERY_TARGET_MS = 20;
    private static final long S = TimeSpans.NS_PER_S;
    private static final long MIN = 60 * S;
    private static final long HOUR = 3_600 * S;
    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    static final String USAGE = """
            usage: bench telemetry [options]
              --series N          series in the write pass (default 10000)
              --points N          points in the write pass (default 5000000)
              --batch N           points per write batch (default 10000)
              --query-series N    series in the many-series query (default 1000)
              --interval S        seconds between the points of those series (default 10)
              --hours H           hours of data per series in the query passes (default 24)
              --http-points N     points sent as line protocol over HTTP (default 500000; 0 skips the pass)
              --sync full|normal|both   SQLite synchronous mode of the write pass (default both; the server uses full
                                  with [data] fsync = "always", the default, and normal otherwise)
              --postgres URL      also measure the PostgreSQL adapter (jdbc:postgresql://host:port/db); it drops and
                                  creates the schemas junction_bench_write and junction_bench_query there
              --pg-user U         (default postgres)
              --pg-password P     (default empty)
              --dir D             where the embedded stores go (default: a temp directory, deleted afterwards)
            """;

    private TelemetryBench() {
    }

    record Options(int series, long points, int batch, int querySeries, int interval, int hours, long httpPoints,
                   List<Boolean> durable, Optional<String> postgres, String pgUser, String pgPassword, Optional<Path> dir) {
    }

    static int run(String[] args, PrintStream out) throws Exception {
        if (Arrays.asList(args).contains("--help")) {
            out.print(USAGE);
            return 0;
        }
        Options o;
        try {
            Args a = new Args(args, 0, Set.of("--series", "--points", "--batch", "--query-series", "--interval", "--hours",
                    "--http-points", "--sync", "--postgres", "--pg-user", "--pg-password", "--dir"), Set.of());
            String sync = a.string("--sync", "both");
            List<Boolean> durable = switch (sync) {
                case "full" -> List.of(true);
                case "normal" -> List.of(false);
                case "both" -> List.of(true, false);
                default -> throw new Args.UsageException("--sync must be full, normal or both, got '" + sync + "'");
            };
            o = new Options(a.integer("--series", 10_000, 1, 1_000_000), a.integer("--points", 5_000_000, 1, 1_000_000_000),
                    a.integer("--batch", 10_000, 1, 1_000_000), a.integer("--query-series", 1_000, 1, 100_000),
                    a.integer("--interval", 10, 1, 3_600), a.integer("--hours", 24, 1, 24 * 365),
                    a.integer("--http-points", 500_000, 0, 1_000_000_000), durable,
                    Optional.ofNullable(a.string("--postgres", null)), a.string("--pg-user", "postgres"),
                    a.string("--pg-password", ""), Optional.ofNullable(a.string("--dir", null)).map(Path::of));
        } catch (Args.UsageException e) {
            out.println("bench telemetry: " + e.getMessage());
            out.print(USAGE);
            return 2;
        }
        out.printf(Locale.ROOT, "telemetry bench: machine %d cores, JDK %s, heap %d MB; the machine may be shared, so"
                        + " figures vary between runs%n%n", Runtime.getRuntime().availableProcessors(), Runtime.version(),
                Runtime.getRuntime().maxMemory() >> 20);
        Path base = o.dir().isPresent() ? Files.createDirectories(o.dir().get()) : Files.createTempDirectory("junction-telemetry-bench");
        try {
            Table writes = new Table("store", "series", "points", "batch", "seconds", "points/s", "target", "cpu s",
                    "points/cpu-s", "bytes/point");
            Table queries = new Table("store", "query", "source", "series", "buckets", "first ms", "best ms", "median ms", "target");
            for (boolean durable : o.durable()) {
                Path dir = base.resolve("write-" + (durable ? "full" : "normal"));
                try (SqliteTelemetryStore store = SqliteTelemetryStore.open(dir, durable)) {
                    writePass(out, "sqlite sync=" + (durable ? "full" : "normal"), store, store::compact, o, writes);
                }
            }
            try (SqliteTelemetryStore store = SqliteTelemetryStore.open(base.resolve("query"), false)) {
                queryPass(out, "sqlite", store, store::compact, o, queries, writes);
            }
            if (o.postgres().isPresent()) {
                String writeUrl = freshSchema(o, "junction_bench_write");
                try (TelemetryStore pg = PostgresTelemetryStore.open(writeUrl, o.pgUser(), o.pgPassword(), 4)) {
                    writePass(out, "postgres", pg, () -> { }, o, writes);
                }
                String queryUrl = freshSchema(o, "junction_bench_query");
                try (TelemetryStore pg = PostgresTelemetryStore.open(queryUrl, o.pgUser(), o.pgPassword(), 4)) {
                    queryPass(out, "postgres", pg, () -> vacuum(o, "junction_bench_query"), o, queries, writes);
                }
            }
            out.println();
            out.println("write: batched points over " + o.series() + " series, written through the store port in this JVM"
                    + " (seconds: wall clock inside write calls; cpu s: this thread's CPU time, steadier on a shared machine)");
            out.print(writes.render());
            out.println();
            out.println("query: 1-minute means over " + o.hours() + " h through the query planner (TelemetryReader), warm runs"
                    + " after one cold run; 'raw' before downsampling, 'rollups' after it");
            out.print(queries.render());
            if (o.httpPoints() > 0) {
                out.println();
                httpPass(out, o);
            }
        } finally {
            if (o.dir().isEmpty()) {
                Net.deleteTree(base);
            }
        }
        return 0;
    }

    /** Drops and creates {@code schema} (the bench's own) and returns the URL that writes into it. */
    private static String freshSchema(Options o, String schema) throws java.sql.SQLException {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(o.postgres().orElseThrow(), o.pgUser(), o.pgPassword());
             java.sql.Statement st = c.createStatement()) {
            st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
            st.execute("CREATE SCHEMA " + schema);
        }
        String url = o.postgres().orElseThrow();
        return url + (url.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    /** PostgreSQL's counterpart of the SQLite checkpoint before measuring: fresh statistics and visibility maps. */
    private static void vacuum(Options o, String schema) {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(o.postgres().orElseThrow(), o.pgUser(), o.pgPassword());
             java.sql.Statement st = c.createStatement()) {
            st.execute("VACUUM ANALYZE " + schema + ".telemetry_points");
            st.execute("VACUUM ANALYZE " + schema + ".telemetry_rollups");
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("VACUUM failed: " + e.getMessage(), e);
        }
    }

    /** Ticks of one point per series, cut into batches; only the store's write calls are timed. */
    private static void writePass(PrintStream out, String name, TelemetryStore store, Runnable compact, Options o, Table table) {
        SeriesKey[] keys = new SeriesKey[o.series()];
        RoutingKey key = RoutingKey.of("bench.fleet");
        for (int i = 0; i < keys.length; i++) {
            keys[i] = new SeriesKey(key, Tags.of(Tags.DEVICE, String.format(Locale.ROOT, "d%06d", i)), "temp");
        }
        out.printf(Locale.ROOT, "writing %,d points over %,d series to %s...%n", o.points(), o.series(), name);
        long t0 = 1_767_225_600L * S;
        long written = 0;
        long nanos = 0;
        long cpu0 = CPU.getCurrentThreadCpuTime();
        List<Point> batch = new ArrayList<>(o.batch());
        long tick = 0;
        while (written < o.points()) {
            for (int i = 0; i < keys.length && written < o.points(); i++) {
                batch.add(new Point(keys[i], t0 + tick * S, FieldValue.of(20 + (i % 100) * 0.1 + (tick % 600) * 0.01)));
                written++;
                if (batch.size() == o.batch()) {
                    nanos += timedWrite(store, batch);
                    batch.clear();
                }
            }
            tick++;
        }
        if (!batch.isEmpty()) {
            nanos += timedWrite(store, batch);
        }
        // Includes making the points (a small part); SQLite's own work runs on this thread too.
        double cpuSeconds = (CPU.getCurrentThreadCpuTime() - cpu0) / 1e9;
        long before = System.nanoTime();
        compact.run();
        long compactNanos = System.nanoTime() - before;
        double seconds = nanos / 1e9;
        double rate = written / seconds;
        table.add(name, o.series(), String.format(Locale.ROOT, "%,d", written), o.batch(),
                String.format(Locale.ROOT, "%.1f", seconds), Table.rate(rate),
                (rate >= WRITE_TARGET ? "met" : "MISSED") + " (≥ 500,000)", String.format(Locale.ROOT, "%.1f", cpuSeconds),
                Table.rate(written / cpuSeconds), String.format(Locale.ROOT, "%.1f", store.sizeBytes() / (double) written));
        out.printf(Locale.ROOT, "  %s: %,.0f points/s; the final merge and WAL checkpoint took %d ms more%n", name, rate,
                compactNanos / 1_000_000);
    }

    private static long timedWrite(TelemetryStore store, List<Point> batch) {
        long start = System.nanoTime();
        store.write(batch, Optional.empty());
        return System.nanoTime() - start;
    }

    private static void queryPass(PrintStream out, String name, TelemetryStore store, Runnable compact, Options o,
                                  Table table, Table writes) {
        long hours = o.hours();
        long end = 1_767_225_600L * S + hours * HOUR;
        long start = end - hours * HOUR;
        out.printf(Locale.ROOT, "loading the query data into %s: 1 series at 1 s and %,d series at %d s over %d h...%n",
                name, o.querySeries(), o.interval(), hours);
        SeriesKey one = new SeriesKey(RoutingKey.of("bench.one"), Tags.of(Tags.DEVICE, "solo"), "temp");
        List<Point> batch = new ArrayList<>(10_000);
        long loaded = 0;
        long loadNanos = 0;
        for (long t = start; t < end; t += S) {
            batch.add(new Point(one, t, FieldValue.of(Math.sin(t / 1e12) * 10 + 20)));
            if (batch.size() == 10_000) {
                loadNanos += timedWrite(store, batch);
                loaded += batch.size();
                batch.clear();
            }
        }
        SeriesKey[] many = new SeriesKey[o.querySeries()];
        for (int i = 0; i < many.length; i++) {
            many[i] = new SeriesKey(RoutingKey.of("bench.many"), Tags.of(Tags.DEVICE, String.format(Locale.ROOT, "m%05d", i)), "temp");
        }
        for (long t = start; t < end; t += o.interval() * S) {
            for (int i = 0; i < many.length; i++) {
                batch.add(new Point(many[i], t, FieldValue.of(i + (t / S) % 60)));
                if (batch.size() == 10_000) {
                    loadNanos += timedWrite(store, batch);
                    loaded += batch.size();
                    batch.clear();
                }
            }
        }
        if (!batch.isEmpty()) {
            loadNanos += timedWrite(store, batch);
            loaded += batch.size();
            batch.clear();
        }
        compact.run();
        out.printf(Locale.ROOT, "  loaded %,d points in %.1f s (%,.0f points/s, %d series); %.1f bytes/point on disk%n",
                loaded, loadNanos / 1e9, loaded / (loadNanos / 1e9), many.length + 1, store.sizeBytes() / (double) loaded);
        writes.add(name + " (query data)", many.length + 1, String.format(Locale.ROOT, "%,d", loaded), 10_000,
                String.format(Locale.ROOT, "%.1f", loadNanos / 1e9), Table.rate(loaded / (loadNanos / 1e9)), "", "", "",
                String.format(Locale.ROOT, "%.1f", store.sizeBytes() / (double) loaded));

        Retention retention = new Retention(List.of(new RetentionRule(RoutingPattern.ALL, RetentionRule.FOREVER,
                List.of(new RetentionRule.Rollup(MIN, RetentionRule.FOREVER), new RetentionRule.Rollup(HOUR, RetentionRule.FOREVER)))));
        TelemetryReader reader = new TelemetryReader(store, retention, new TelemetryReader.Limits(1_000_000, 100_000_000, 10_000_000));
        SeriesFilter oneFilter = SeriesFilter.of(RoutingPattern.of("bench.one"), "temp");
        SeriesFilter manyFilter = SeriesFilter.of(RoutingPattern.of("bench.many"), "temp");
        time(table, name, "1 series", "raw", 1, () -> reader.aggregate(oneFilter, start, end, MIN, Fn.MEAN), true);
        time(table, name, many.length + " series", "raw", many.length, () -> reader.aggregate(manyFilter, start, end, MIN, Fn.MEAN), false);

        Maintenance maintenance = new Maintenance(store, retention, Clock.fixed(Instant.ofEpochSecond(end / S + 3_600), ZoneOffset.UTC),
                0, 1_000_000);
        maintenance.prepare();
        long before = System.nanoTime();
        Maintenance.Report r = maintenance.runOnce();
        double seconds = (System.nanoTime() - before) / 1e9;
        out.printf(Locale.ROOT, "  downsampling: %,d rollup rows (1 min and 1 h) from %,d points in %.1f s%n",
                r.rollupRows(), loaded, seconds);
        time(table, name, "1 series", "rollups", 1, () -> reader.aggregate(oneFilter, start, end, MIN, Fn.MEAN), true);
        time(table, name, many.length + " series", "rollups", many.length, () -> reader.aggregate(manyFilter, start, end, MIN, Fn.MEAN), false);
    }

    private static void time(Table table, String store, String what, String source, int series,
                             Supplier<List<TelemetryReader.SeriesData>> query, boolean target) {
        long cold = System.nanoTime();
        List<TelemetryReader.SeriesData> result = query.get();
        long coldNanos = System.nanoTime() - cold;
        long buckets = result.stream().mapToLong(d -> d.samples().size()).sum();
        long[] runs = new long[7];
        for (int i = 0; i < runs.length; i++) {
            long t = System.nanoTime();
            query.get();
            runs[i] = System.nanoTime() - t;
        }
        Arrays.sort(runs);
        double best = runs[0] / 1e6;
        table.add(store, "1-minute means", source, series, String.format(Locale.ROOT, "%,d", buckets),
                String.format(Locale.ROOT, "%.1f", coldNanos / 1e6), String.format(Locale.ROOT, "%.1f", best),
                String.format(Locale.ROOT, "%.1f", runs[runs.length / 2] / 1e6),
                target ? ((runs[runs.length / 2] / 1e6 <= QUERY_TARGET_MS ? "met" : "MISSED") + " (≤ 20 ms)") : "");
    }

    /** Line protocol from two clients, 5,000 lines per request, over the series of the write pass. */
    private static void httpPass(PrintStream out, Options o) throws IOException, InterruptedException {
        int linesPerRequest = 5_000;
        int clients = 2;
        out.printf(Locale.ROOT, "starting a Junction server for %,d line-protocol points (%d clients, %,d lines per request,"
                + " default config: fsync = always)...%n", o.httpPoints(), clients, linesPerRequest);
        try (JunctionServer server = JunctionServer.start(null, "2g")) {
            URI write = URI.create(server.baseUrl() + "/api/telemetry/write?precision=s");
            long now = System.currentTimeMillis() / 1000 - 3_600;
            long requests = (o.httpPoints() + linesPerRequest - 1) / linesPerRequest;
            AtomicLong nextRequest = new AtomicLong();
            AtomicLong sent = new AtomicLong();
            AtomicInteger failures = new AtomicInteger();
            List<String> problems = new ArrayList<>();
            long started = System.nanoTime();
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    StringBuilder body = new StringBuilder(linesPerRequest * 48);
                    long r;
                    while ((r = nextRequest.getAndIncrement()) < requests) {
                        body.setLength(0);
                        long first = r * linesPerRequest;
                        long last = Math.min(o.httpPoints(), first + linesPerRequest);
                        for (long p = first; p < last; p++) {
                            long series = p % o.series();
                            long tick = p / o.series();
                            body.append("bench.http,device=d").append(series).append(" temp=")
                                    .append(20 + series % 100 * 0.1).append(",n=").append(tick).append("i ")
                                    .append(now + tick).append('\n');
                        }
                        try {
                            HttpResponse<String> resp = Net.http().send(Net.bearer(HttpRequest.newBuilder(write), server.token())
                                    .timeout(Duration.ofSeconds(60))
                                    .POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (resp.statusCode() == 204) {
                                sent.addAndGet(2 * (last - first));
                            } else {
                                failures.incrementAndGet();
                                synchronized (problems) {
                                    if (problems.size() < 3) {
                                        problems.add(resp.statusCode() + " " + resp.body());
                                    }
                                }
                            }
                        } catch (IOException e) {
                            failures.incrementAndGet();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            Table t = new Table("lines", "points (2 fields a line)", "requests", "failed", "seconds", "points/s");
            t.add(String.format(Locale.ROOT, "%,d", o.httpPoints()), String.format(Locale.ROOT, "%,d", sent.get()), requests,
                    failures.get(), String.format(Locale.ROOT, "%.1f", seconds), Table.rate(sent.get() / seconds));
            out.println("http: POST /api/telemetry/write into a child server, parse + store, answered 204 (durable before the answer)");
            out.print(t.render());
            for (String p : problems) {
                out.println("  failed request: " + p);
            }
        }
    }
}
