package io.junction.bench;

import io.junction.core.Ids;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.engine.EngineSettings;
import io.junction.core.config.JunctionConfig;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.engine.Engine;
import io.junction.engine.Language;
import io.junction.engine.ReplayInfo;
import io.junction.engine.ScriptSource;
import io.junction.store.log.LogStream;
import io.junction.store.state.SqliteStateStore;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * {@code ./junction bench engine}: the processing engine in this process, over real durable logs in a temporary
 * folder (no MQTT, so the figures are the engine's own). Live passes append messages to the raw stream as fast as
 * it takes them and measure messages/s through the engine and the latency from a message being durable in the raw
 * stream to its output being durable in the processed stream; the reference is pass-through (a copy, no script).
 * Replay passes re-run a stream of raw messages at full speed. A script's own cost per message is derived from the
 * replays (single thread, nothing else running): its time per message minus pass-through's.
 */
final class EngineBench {

    static final String JS = "function process(m) { return {key: m.key + '_pct', body: {value: m.body.value * 100 / 255}}; }";
    static final String JS_V2 = "// version 2\nfunction process(m) { const v = m.body.value; return {key: m.key + '_pct', body: {value: v * 100 / 255}}; }";
    static final String PY = """
            def process(m):
                return {"key": m["key"] + "_pct", "body": {"value": m["body"]["value"] * 100 / 255}}
            """;
    /** The percent transform as a WASM module (engine/src/test/resources/wasm/pct.wat, built with wat2wasm). */
    static final byte[] WASM = Base64.getDecoder().decode(
            "AGFzbQEAAAABGARgAn9/AX9gAn9/AXxgA39/fABgAX8BfwJEAwhqdW5jdGlvbglpbnB1dF9rZXkAAAhqdW5jdGlvbgxpbnB1dF9udW1iZXIAAQhq"
                    + "dW5jdGlvbgplbWl0X3ZhbHVlAAIDAwIDAAUDAQACBxwDBm1lbW9yeQIABWFsbG9jAAMHcHJvY2VzcwAECmQCEwAgAEGAgARLBEBBfw8LQYCA"
                    + "BAtOAQF/QYAIQYAIEAAhAiACQYAISwRAQQEPC0GACCACakEIQQT8CgAAQYAIIAJBBGpBAEEFEAFEAAAAAAAAWUCiRAAAAAAA4G9AoxACQQAL"
                    + "CxQCAEEACwV2YWx1ZQBBCAsEX3BjdA==");

    record Options(int messages, int replay, int pythonReplay, JunctionConfig.Fsync fsync, boolean python, int rate, int pacedSeconds) {
    }

    private final Options options;
    private final PrintStream out;
    private final Path root;

    private EngineBench(Options options, PrintStream out) throws IOException {
        this.options = options;
        this.out = out;
        this.root = Files.createTempDirectory("junction-engine-bench");
    }

    static int run(String[] args, PrintStream out) throws Args.UsageException, IOException, InterruptedException {
        Args a = new Args(args, 0, java.util.Set.of("--messages", "--replay", "--fsync", "--python-replay", "--rate", "--paced-seconds"), java.util.Set.of("--skip-python"));
        String fsync = a.string("--fsync", "never");
        JunctionConfig.Fsync mode = switch (fsync) {
            case "always" -> JunctionConfig.Fsync.ALWAYS;
            case "interval" -> JunctionConfig.Fsync.INTERVAL;
            case "never" -> JunctionConfig.Fsync.NEVER;
            default -> throw new Args.UsageException("--fsync must be always, interval or never, got '" + fsync + "'");
        };
        Options o = new Options(a.integer("--messages", 200_000, 1_000, 100_000_000),
                a.integer("--replay", 10_000_000, 0, 1_000_000_000),
                a.integer("--python-replay", 200_000, 0, 1_000_000_000), mode, !a.flag("--skip-python"),
                a.integer("--rate", 5_000, 1, 10_000_000), a.integer("--paced-seconds", 3, 1, 3600));
        EngineBench bench = new EngineBench(o, out);
        try {
            bench.runAll();
        } finally {
            bench.cleanUp();
        }
        return 0;
    }

    // ---- live passes ----

    /** What one live pass measured. */
    /** A live pass: as fast as possible (rate, latency under a backlog), then paced (latency without one). */
    record Live(String name, double rate, long p50, long p99, long max, long outputs, long distinctIds, double swapMillis,
                long pacedP50, long pacedP99, long pacedMax) {
    }

    private void runAll() throws IOException, InterruptedException {
        out.printf(Locale.ROOT, "engine bench: %d cores, JDK %s, fsync=%s, %,d messages per live pass (after a %,d warm-up), in %s%n",
                Runtime.getRuntime().availableProcessors(), Runtime.version(), options.fsync().name().toLowerCase(Locale.ROOT),
                options.messages(), options.messages() / 10, root);
        out.println("The machine may be shared with other work: read ratios, not absolute figures.");
        out.println();
        List<Live> live = new ArrayList<>();
        live.add(live("pass-through (reference)", List.of("bench.#"), List.of(), 1, false));
        live.add(live("1 JavaScript script", List.of(), List.of(script("js", Language.JAVASCRIPT, JS, "bench.#")), 1, false));
        live.add(live("1 JavaScript script, hot swap mid-pass", List.of(), List.of(script("js", Language.JAVASCRIPT, JS, "bench.#")), 1, true));
        if (options.python()) {
            live.add(live("1 Python script", List.of(), List.of(script("py", Language.PYTHON, PY, "bench.#")), 1, false));
        }
        live.add(live("1 WASM module", List.of(), List.of(script("wasm", Language.WASM, WASM, "bench.#")), 1, false));
        List<ScriptSource> ten = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ten.add(script("js" + i, Language.JAVASCRIPT, JS, "bench.k" + i + ".#"));
        }
        live.add(live("10 JavaScript scripts, different keys", List.of(), ten, 10, false));

        double reference = live.getFirst().rate();
        Table t = new Table("live pass", "msgs/s", "vs pass-through", "p50 ms", "p99 ms", "max ms", "outputs", "swap ms",
                "paced p50 ms", "paced p99 ms", "paced max ms");
        for (Live l : live) {
            t.add(l.name(), Table.rate(l.rate()), String.format(Locale.ROOT, "%.0f%%", 100 * l.rate() / reference),
                    Table.ms(l.p50()), Table.ms(l.p99()), Table.ms(l.max()),
                    l.outputs() + (l.distinctIds() == l.outputs() ? "" : " (" + (l.outputs() - l.distinctIds()) + " repeated!)"),
                    l.swapMillis() < 0 ? "" : String.format(Locale.ROOT, "%.0f", l.swapMillis()),
                    Table.ms(l.pacedP50()), Table.ms(l.pacedP99()), Table.ms(l.pacedMax()));
        }
        out.println("Live: raw append -> script -> processed append, latency from raw-durable to processed-durable;");
        out.printf(Locale.ROOT, "first as fast as the raw log takes messages (latency = the backlog), then paced at %,d msgs/s for %d s%n",
                options.rate(), options.pacedSeconds());
        out.print(t.render());
        out.println("targets: a trivial script keeps >= 80% of pass-through throughput; a hot swap under load loses and repeats nothing and takes effect within 1 s");
        out.println();
        if (options.replay() > 0) {
            replays();
        }
    }

    static ScriptSource script(String name, Language language, String source, String bind) {
        return script(name, language, source.getBytes(StandardCharsets.UTF_8), bind);
    }

    static ScriptSource script(String name, Language language, byte[] code, String bind) {
        return new ScriptSource(name, language, code, List.of(RoutingPattern.of(bind)), "api");
    }

    private Live live(String name, List<String> passThrough, List<ScriptSource> scripts, int keys, boolean swap)
            throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory(root, "live");
        int warm = Math.max(100, options.messages() / 10);
        int n = options.messages();
        try (Streams s = new Streams(dir, options.fsync())) {
            Engine engine = Engine.builder().streams(s.raw, s.processed).state(s.state).settings(settings(passThrough))
                    .start();
            try {
                for (ScriptSource src : scripts) {
                    engine.store(src);
                }
                // Warm-up: the interpreters compile nothing but do learn the shapes they see.
                Tracker warmUp = new Tracker(warm, keys);
                warmUp.attach(s);
                produce(s.raw, warm, keys, null);
                warmUp.await();
                warmUp.detach();

                Tracker tracker = new Tracker(n, keys);
                tracker.attach(s);
                double[] swapMillis = {-1};
                Runnable midway = !swap ? null : () -> {
                    long t0 = System.nanoTime();
                    engine.store(script(scripts.getFirst().name(), Language.JAVASCRIPT, JS_V2, "bench.#"));
                    swapMillis[0] = (System.nanoTime() - t0) / 1e6;
                };
                long start = System.nanoTime();
                Thread swapper = produce(s.raw, n, keys, midway);
                tracker.await();
                if (swapper != null) {
                    swapper.join();
                }
                double seconds = (tracker.lastNanos.get() - start) / 1e9;
                tracker.detach();
                long distinct = distinctIds(s.processed, warmUp.expected);

                int pacedCount = options.rate() * options.pacedSeconds();
                Tracker paced = new Tracker(pacedCount, keys);
                paced.attach(s);
                producePaced(s.raw, pacedCount, keys, options.rate());
                paced.await();
                paced.detach();
                out.printf(Locale.ROOT, "  %-40s %,12.0f msgs/s, paced p99 %s ms%n", name, n / seconds, Table.ms(paced.latency.percentile(99)));
                return new Live(name, n / seconds, tracker.latency.percentile(50), tracker.latency.percentile(99),
                        tracker.latency.max(), tracker.outputs.get(), distinct, swapMillis[0],
                        paced.latency.percentile(50), paced.latency.percentile(99), paced.latency.max());
            } finally {
                engine.close();
            }
        } finally {
            delete(dir);
        }
    }

    private EngineSettings settings(List<String> passThrough) {
        EngineSettings d = EngineSettings.defaults();
        return new EngineSettings(d.timeLimitMillis(), d.memoryLimitBytes(), d.failuresBeforeSuspend(), passThrough,
                Optional.empty(), d.threads());
    }

    /**
     * Appends {@code n} messages round-robin over {@code keys} routing keys; half-way it starts {@code midway} on a
     * thread of its own, which it returns (null without one).
     */
    private static Thread produce(MessageStream raw, int n, int keys, Runnable midway) {
        Thread started = null;
        String[] keyNames = new String[keys];
        for (int k = 0; k < keys; k++) {
            keyNames[k] = keys == 1 ? "bench.s.v" : "bench.k" + k + ".v";
        }
        RoutingKey[] routing = new RoutingKey[keys];
        for (int k = 0; k < keys; k++) {
            routing[k] = RoutingKey.of(keyNames[k]);
        }
        for (int i = 0; i < n; i++) {
            if (midway != null && i == n / 2) {
                started = Thread.ofPlatform().start(midway);
            }
            long ts = System.currentTimeMillis();
            int k = i % keys;
            raw.append(new Message(Ids.next(ts), ts, "bench/" + k, routing[k], "bench", "status", "{\"value\":" + (i % 256) + "}"));
        }
        return started;
    }

    /** Appends {@code n} messages at {@code rate} per second, keeping to the schedule rather than catching up in bursts. */
    private static void producePaced(MessageStream raw, int n, int keys, int rate) {
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long due = start + (long) (i * 1e9 / rate);
            long wait = due - System.nanoTime();
            if (wait > 50_000) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait);
            }
            long ts = System.currentTimeMillis();
            int k = i % keys;
            String key = keys == 1 ? "bench.s.v" : "bench.k" + k + ".v";
            raw.append(new Message(Ids.next(ts), ts, "bench/" + k, RoutingKey.of(key), "bench", "status", "{\"value\":" + (i % 256) + "}"));
        }
    }

    /** How many distinct ids the processed stream holds after the warm-up: equal to the count when nothing repeats. */
    private static long distinctIds(MessageStream processed, long skip) {
        Set<String> ids = new HashSet<>();
        long at = skip;
        while (true) {
            List<StreamEntry> chunk = processed.read(at, 10_000);
            if (chunk.isEmpty()) {
                return ids.size();
            }
            for (StreamEntry e : chunk) {
                ids.add(e.message().id());
            }
            at = chunk.getLast().offset() + 1;
        }
    }

    /**
     * Pairs each output with its source through taps on both streams: the outputs of one routing key come out in the
     * order their sources went in, so a FIFO of raw-durable times per key gives each output's latency.
     */
    private static final class Tracker {
        final int expected;
        final int keys;
        final long[][] rawNanos;
        final int[] rawCount;
        final int[] outCount;
        final AtomicLong outputs = new AtomicLong();
        final AtomicLong lastNanos = new AtomicLong();
        final LatencyHistogram latency = new LatencyHistogram();
        final CountDownLatch done = new CountDownLatch(1);
        MessageStream.Tap rawTap;
        MessageStream.Tap processedTap;

        Tracker(int expected, int keys) {
            this.expected = expected;
            this.keys = keys;
            this.rawNanos = new long[keys][expected / keys + 1];
            this.rawCount = new int[keys];
            this.outCount = new int[keys];
        }

        void attach(Streams s) {
            rawTap = s.raw.tap(e -> {
                int k = keyIndex(e.message().key().value());
                if (k >= 0 && rawCount[k] < rawNanos[k].length) {
                    rawNanos[k][rawCount[k]++] = System.nanoTime();
                }
            });
            processedTap = s.processed.tap(e -> {
                long now = System.nanoTime();
                int k = keyIndex(e.message().key().value());
                if (k >= 0) {
                    int i = outCount[k]++;
                    if (i < rawNanos[k].length) {
                        long sent = rawNanos[k][i];
                        if (sent != 0) {
                            latency.record((now - sent) / 1_000);
                        }
                    }
                }
                lastNanos.set(now);
                if (outputs.incrementAndGet() == expected) {
                    done.countDown();
                }
            });
        }

        int keyIndex(String key) {
            if (keys == 1) {
                return 0;
            }
            // bench.k<digit>.v[_pct]
            char c = key.length() > 7 ? key.charAt(7) : 'x';
            return c >= '0' && c <= '9' ? c - '0' : -1;
        }

        void await() throws InterruptedException {
            if (!done.await(10, TimeUnit.MINUTES)) {
                throw new IllegalStateException("only " + outputs.get() + " of " + expected + " outputs arrived in 10 minutes");
            }
        }

        void detach() {
            rawTap.close();
            processedTap.close();
        }
    }

    // ---- replays ----

    private void replays() throws IOException, InterruptedException {
        int n = options.replay();
        Path dir = Files.createTempDirectory(root, "replay");
        out.printf(Locale.ROOT, "Replay: %,d raw messages written first (fsync=%s), then replayed into a fresh processed stream each time%n",
                n, options.fsync().name().toLowerCase(Locale.ROOT));
        JunctionConfig.Data data = new JunctionConfig.Data(dir, options.fsync(), 20, 64L * 1024 * 1024);
        try (LogStream raw = LogStream.open(dir.resolve("raw"), "raw", data, new SimpleMeterRegistry())) {
            long t0 = System.nanoTime();
            produce(raw, n, 1, null);
            while (raw.endOffset() < n) {
                Thread.sleep(10);
            }
            out.printf(Locale.ROOT, "  raw stream written: %,.0f msgs/s, %,d MB%n", n / ((System.nanoTime() - t0) / 1e9),
                    raw.sizeBytes() / (1024 * 1024));
            List<String[]> rows = new ArrayList<>();
            Replayed pt = replay(dir, raw, "pass-through", null, n);
            Replayed js = replay(dir, raw, "JavaScript", script("js", Language.JAVASCRIPT, JS, "bench.#"), n);
            Replayed jsAgain = replay(dir, raw, "JavaScript, again", script("js", Language.JAVASCRIPT, JS, "bench.#"), n);
            Replayed wasm = replay(dir, raw, "WASM", script("wasm", Language.WASM, WASM, "bench.#"), n);
            Replayed py = null;
            if (options.python() && options.pythonReplay() > 0) {
                py = replay(dir, raw, "Python", script("py", Language.PYTHON, PY, "bench.#"), Math.min(n, options.pythonReplay()));
            }
            double ptMicros = 1e6 / pt.rate;
            Table t = new Table("replay", "messages", "msgs/s", "µs/msg", "script µs/msg", "target", "output digest");
            for (Replayed r : Stream.of(pt, js, jsAgain, wasm, py).filter(java.util.Objects::nonNull).toList()) {
                double micros = 1e6 / r.rate;
                String target = r == pt ? ">= 500k/s" : r == py ? "(none)" : ">= 200k/s, <= 5 µs";
                t.add(r.name, String.format(Locale.ROOT, "%,d", r.messages), Table.rate(r.rate),
                        String.format(Locale.ROOT, "%.2f", micros),
                        r == pt ? "" : String.format(Locale.ROOT, "%.2f", micros - ptMicros), target, r.digest.substring(0, 16));
            }
            out.print(t.render());
            out.println("byte-identical output when the JavaScript replay is repeated: "
                    + (js.digest.equals(jsAgain.digest) ? "yes" : "NO") + " (SHA-256 over every replayed message, in order)");
            out.println("script µs/msg: the replay's time per message minus pass-through's, i.e. what running the script adds");
        } finally {
            delete(dir);
        }
    }

    private record Replayed(String name, long messages, double rate, String digest) {
    }

    private Replayed replay(Path dir, LogStream raw, String name, ScriptSource script, long n) throws IOException, InterruptedException {
        Path run = Files.createTempDirectory(dir, "run");
        JunctionConfig.Data data = new JunctionConfig.Data(run, options.fsync(), 20, 64L * 1024 * 1024);
        try (LogStream processed = LogStream.open(run.resolve("processed"), "processed", data, new SimpleMeterRegistry());
             SqliteStateStore state = SqliteStateStore.open(run, Clock.systemUTC())) {
            Engine engine = Engine.builder().streams(raw, processed).state(state)
                    .settings(settings(script == null ? List.of("bench.#") : List.of()))
                    .start();
            ReplayInfo info;
            try {
                if (script != null) {
                    engine.store(script);
                }
                info = script == null ? engine.replayPassThrough(0, n) : engine.replay(script.name(), 0, n);
                String who = script == null ? Engine.PASS_THROUGH : script.name();
                while (!info.done()) {
                    Thread.sleep(50);
                    info = engine.replayInfo(who).orElseThrow();
                }
            } finally {
                engine.close();
            }
            if (!info.state().equals("done")) {
                throw new IllegalStateException("the " + name + " replay ended " + info.state() + ": " + info.error());
            }
            out.printf(Locale.ROOT, "  %-20s %,12.0f msgs/s%n", name, info.rate());
            return new Replayed(name, n, info.rate(), digest(processed));
        } finally {
            delete(run);
        }
    }

    private static String digest(LogStream processed) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            long at = 0;
            while (true) {
                List<StreamEntry> chunk = processed.read(at, 10_000);
                if (chunk.isEmpty()) {
                    break;
                }
                for (StreamEntry e : chunk) {
                    Message m = e.message();
                    d.update((m.id() + '\n' + m.ts() + '\n' + m.topic() + '\n' + m.key() + '\n' + m.device() + '\n'
                            + m.kind() + '\n' + m.body() + '\n').getBytes(StandardCharsets.UTF_8));
                }
                at = chunk.getLast().offset() + 1;
            }
            return java.util.HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- plumbing ----

    /** A raw and a processed log in one folder. */
    private static final class Streams implements AutoCloseable {
        final LogStream raw;
        final LogStream processed;
        final SqliteStateStore state;

        Streams(Path dir, JunctionConfig.Fsync fsync) {
            JunctionConfig.Data data = new JunctionConfig.Data(dir, fsync, 20, 64L * 1024 * 1024);
            raw = LogStream.open(dir.resolve("raw"), "raw", data, new SimpleMeterRegistry());
            processed = LogStream.open(dir.resolve("processed"), "processed", data, new SimpleMeterRegistry());
            state = SqliteStateStore.open(dir, Clock.systemUTC());
        }

        @Override
        public void close() {
            raw.close();
            processed.close();
            state.close();
        }
    }

    private void cleanUp() {
        delete(root);
    }

    private static void delete(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir + ": " + e.getMessage(), e);
        }
    }
}
