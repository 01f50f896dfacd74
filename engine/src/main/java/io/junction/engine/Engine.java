package io.junction.engine;

import io.junction.core.RoutingPattern;
import io.junction.core.hub.EventHub;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The processing engine: user scripts (JavaScript, Python, WASM) bound to routing-key patterns, run on the raw
 * stream into the processed stream, each with its own durable offset; pass-through copies; replays; and the plugins
 * folder. Storing, replacing and deleting scripts go through one compiler thread, so they happen one at a time and
 * every script is checked (compiled, {@code process} present, top-level code and {@code init} run under the limits)
 * before it replaces the running version.
 */
public final class Engine implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Engine.class);
    /** The name pass-through's offsets and replays go by; no script may take it. */
    public static final String PASS_THROUGH = "pass-through";

    private final EngineSettings settings;
    private final Shared shared;
    private final Runtimes runtimes;
    private final Watchdog watchdog;
    private final Dispatcher dispatcher = new Dispatcher();
    private final ConcurrentHashMap<String, ScriptActor> actors = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Replay> replays = new ConcurrentHashMap<>();
    private final Semaphore replayPermits;
    private final ThreadPoolExecutor compiler;
    private volatile Guard compilerGuard;
    private final ScriptActor passThrough;
    private final ScriptSource passThroughSource;
    private final MessageStream.Tap tap;
    private final PluginWatcher plugins;
    private volatile boolean closed;

    private Engine(Builder b) {
        this.settings = b.settings;
        MeterRegistry metrics = b.metrics != null ? b.metrics : new SimpleMeterRegistry();
        ScriptStore store = new ScriptStore(b.dir);
        this.watchdog = new Watchdog(settings.timeLimitMillis(), settings.memoryLimitBytes());
        this.runtimes = new Runtimes(settings.memoryLimitBytes());
        this.replayPermits = new Semaphore(settings.threads());
        this.shared = new Shared(b.raw, b.processed, Optional.ofNullable(b.status), Optional.ofNullable(b.hub),
                Optional.ofNullable(b.calls), store,
                runtimes, watchdog, new Semaphore(settings.threads(), true), settings.failuresBeforeSuspend(), dispatcher,
                Shared.Meters.register(metrics));
        this.compiler = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(64), r ->
                Thread.ofPlatform().name("engine-compiler").daemon(true).unstarted(() -> {
                    compilerGuard = watchdog.guard();
                    r.run();
                }));
        Gauge.builder("junction.engine.scripts", actors, Map::size).description("Scripts stored").register(metrics);

        for (ScriptStore.Stored s : store.loadAll()) {
            Runtimes.Compiled compiled = runtimes.compileStored(s.source());
            LogRing logs = new LogRing(s.source().name());
            ScriptActor a = new ScriptActor(s.source().name(), new ScriptActor.Version(s, compiled), null,
                    host(s.source(), logs), logs, startOffsets(store, s.source().name()), shared);
            actors.put(a.name, a);
            dispatcher.add(a);
        }
        if (settings.passThrough().isEmpty()) {
            passThroughSource = null;
            passThrough = null;
        } else {
            // Pass-through is an actor like a script's, whose runner copies each message; it has no source to run.
            passThroughSource = new ScriptSource(PASS_THROUGH, Language.JAVASCRIPT, "copy".getBytes(StandardCharsets.UTF_8),
                    settings.passThrough().stream().map(RoutingPattern::of).toList(), "config");
            ScriptActor.Version v = new ScriptActor.Version(new ScriptStore.Stored(passThroughSource, 1, 0),
                    new Runtimes.Compiled(passThroughSource, null, "pass-through cannot be reloaded"));
            LogRing logs = new LogRing(PASS_THROUGH);
            passThrough = new ScriptActor(PASS_THROUGH, v, Runtimes.passThrough(), host(passThroughSource, logs), logs,
                    startOffsets(store, PASS_THROUGH), shared);
            dispatcher.add(passThrough);
        }
        // Every actor is registered before the tap, and each starts by reading the raw stream itself: nothing appended
        // in between is missed.
        this.tap = b.raw.tap(dispatcher);
        actors.values().forEach(ScriptActor::start);
        if (passThrough != null) {
            passThrough.start();
        }
        this.plugins = b.plugins == null ? null : new PluginWatcher(b.plugins, this);
        log.info("engine started: {} scripts, pass-through {}, time limit {} ms, memory limit {} MB, threads {}, plugins {}",
                actors.size(), settings.passThrough(), settings.timeLimitMillis(), settings.memoryLimitBytes() / (1024 * 1024),
                settings.threads(), b.plugins == null ? "off" : b.plugins);
    }

    private ScriptStore.Offsets startOffsets(ScriptStore store, String name) {
        return store.offsets(name).orElseGet(() -> {
            ScriptStore.Offsets o = new ScriptStore.Offsets(shared.raw().endOffset(), shared.processed().endOffset());
            store.saveOffsets(name, o);
            return o;
        });
    }

    private Host host(ScriptSource s, LogRing logs) {
        return new Host(shared.status(), s.name(), s.bindValues(), logs, shared.calls(), s.owner(), settings.timeLimitMillis(), true);
    }

    /** A host for a replay: the same reads, but no exec — re-running past messages must not drive devices again. */
    private Host replayHost(ScriptSource s, LogRing logs) {
        return new Host(shared.status(), s.name(), s.bindValues(), logs, shared.calls(), s.owner(), settings.timeLimitMillis(), false);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Stores a script: checks it (a {@link ScriptRejectedException} with the language's message and line when it does
     * not compile, lacks {@code process}, or fails in its top-level code or {@code init}), saves it, and swaps it in —
     * a new script starts at the end of the raw stream; a new version of a script takes over from the next message,
     * with nothing lost or repeated. Returns the script as it is afterwards.
     */
    public ScriptInfo store(ScriptSource source) {
        if (source.name().equals(PASS_THROUGH)) {
            throw new IllegalArgumentException("the script name '" + PASS_THROUGH + "' is reserved for the engine's pass-through");
        }
        return onCompiler(() -> doStore(source));
    }

    private ScriptInfo doStore(ScriptSource src) throws InterruptedException, ExecutionException {
        Runtimes.Compiled compiled = runtimes.compile(src);
        ScriptActor existing = actors.get(src.name());
        LogRing logs = existing != null ? existing.logs() : new LogRing(src.name());
        Host host = host(src, logs);
        Runner runner = runtimes.instantiate(compiled, host, compilerGuard);
        long version = existing != null ? existing.version().stored().version() + 1 : 1;
        ScriptStore.Stored stored = new ScriptStore.Stored(src, version, System.currentTimeMillis());
        try {
            shared.store().save(stored);
        } catch (RuntimeException e) {
            runner.close(compilerGuard);
            throw e;
        }
        ScriptActor.Version v = new ScriptActor.Version(stored, compiled);
        if (existing != null) {
            try {
                // The swap happens between two messages; wait for it so the answer shows the new version at work.
                existing.swap(v, runner, host).get(settings.timeLimitMillis() + 2_000, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("script={} version {} is not in place yet after {} ms", src.name(), version, settings.timeLimitMillis() + 2_000);
            }
        } else {
            ScriptStore.Offsets start = new ScriptStore.Offsets(shared.raw().endOffset(), shared.processed().endOffset());
            shared.store().saveOffsets(src.name(), start);
            ScriptActor a = new ScriptActor(src.name(), v, runner, host, logs, start, shared);
            actors.put(a.name, a);
            dispatcher.add(a);
            a.start();
        }
        log.info("script={} version={} language={} bind={} stored ({})", src.name(), version, src.language().id(),
                src.bindValues(), src.origin());
        shared.publish(new ScriptEvent(src.name(), "stored", version, src.language().id() + " " + src.bindValues()));
        return info(src.name(), true).orElseThrow();
    }

    /** Stores a module found in the plugins folder, unless it is already the running version. */
    boolean storePlugin(String name, byte[] module, Optional<List<RoutingPattern>> bind) {
        ScriptActor existing = actors.get(name);
        List<RoutingPattern> patterns = bind.orElseGet(() -> existing != null
                ? existing.version().source().bind() : List.of(RoutingPattern.ALL));
        if (existing != null) {
            ScriptSource s = existing.version().source();
            if (s.language() == Language.WASM && MessageDigest.isEqual(sha256(s.code()), sha256(module))
                    && s.bind().equals(patterns)) {
                return false;
            }
        }
        // The plugins folder belongs to whoever runs the server: its scripts act with the server's rights.
        store(new ScriptSource(name, Language.WASM, module, patterns, "plugin", io.junction.core.auth.Principal.SYSTEM));
        return true;
    }

    /** Deletes the script {@code name} if it came from the plugins folder (its file was removed). */
    void deletePlugin(String name) {
        ScriptActor a = actors.get(name);
        if (a != null && a.version().source().origin().equals("plugin")) {
            delete(name);
        }
    }

    /** Deletes a script: stops it, cancels its replay, and removes its files. False when there is no such script. */
    public boolean delete(String name) {
        return onCompiler(() -> {
            ScriptActor a = actors.remove(name);
            if (a == null) {
                return false;
            }
            dispatcher.remove(a);
            a.stop(settings.timeLimitMillis() + 5_000);
            Replay r = replays.remove(name);
            if (r != null) {
                r.cancel(settings.timeLimitMillis() + 5_000);
            }
            shared.store().delete(name);
            log.info("script={} deleted", name);
            shared.publish(new ScriptEvent(name, "deleted", a.version().stored().version(), ""));
            return true;
        });
    }

    private <T> T onCompiler(Callable<T> task) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        Future<T> f;
        try {
            f = compiler.submit(task);
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("the engine is busy storing other scripts; try again in a moment");
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the engine", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(c.toString(), c);
        }
    }

    /** Every script, by name, without their sources. */
    public List<ScriptInfo> scripts() {
        List<String> names = new ArrayList<>(actors.keySet());
        names.sort(null);
        List<ScriptInfo> out = new ArrayList<>();
        for (String n : names) {
            info(n, false).ifPresent(out::add);
        }
        return out;
    }

    /** One script with its source, state, counters, recent errors and logs, and its latest replay. */
    public Optional<ScriptInfo> script(String name) {
        return info(name, true);
    }

    private Optional<ScriptInfo> info(String name, boolean full) {
        ScriptActor a = actors.get(name);
        if (a == null) {
            return Optional.empty();
        }
        ScriptActor.Version v = a.version();
        ScriptSource s = v.source();
        Replay r = replays.get(name);
        long offset = a.nextOffset();
        return Optional.of(new ScriptInfo(name, s.language().id(), s.bindValues(), s.origin(), v.stored().version(),
                Instant.ofEpochMilli(v.stored().storedAt()).toString(), a.state().name().toLowerCase(java.util.Locale.ROOT),
                a.reason(), offset, Math.max(0, shared.raw().endOffset() - offset), a.versionSince(), a.counters(),
                a.lastFailure(), full ? a.recentFailures() : null, full ? a.logs().recent() : null,
                r == null ? null : r.info(), HexFormat.of().formatHex(sha256(s.code())), s.code().length,
                full && s.language() != Language.WASM ? s.text() : null,
                new ScriptInfo.Owner(s.owner().user(), s.owner().role().id())));
    }

    /**
     * Re-runs script {@code name} over raw offsets {@code from} (inclusive) to {@code to} (exclusive; clamped to the
     * end of the raw stream) into the processed stream, beside its live processing. {@link NoSuchElementException}
     * when there is no such script, {@link IllegalStateException} when a replay of it is running already or too many
     * replays run.
     */
    public ReplayInfo replay(String name, long from, long to) {
        ScriptActor a = actors.get(name);
        if (a == null) {
            throw new NoSuchElementException("no script named '" + name + "'");
        }
        ScriptActor.Version v = a.version();
        return startReplay(name, v.source(), v.compiled(), replayHost(v.source(), a.logs()), from, to);
    }

    /** Copies raw offsets {@code from}..{@code to} that match the pass-through patterns again, as replayed messages. */
    public ReplayInfo replayPassThrough(long from, long to) {
        if (passThroughSource == null) {
            throw new IllegalStateException("no pass-through patterns are configured ([engine] pass_through)");
        }
        return startReplay(PASS_THROUGH, passThroughSource, null, replayHost(passThroughSource, passThrough.logs()), from, to);
    }

    /** The latest replay of {@code name} (a script, or {@link #PASS_THROUGH}). */
    public Optional<ReplayInfo> replayInfo(String name) {
        return Optional.ofNullable(replays.get(name)).map(Replay::info);
    }

    private ReplayInfo startReplay(String name, ScriptSource source, Runtimes.Compiled compiled, Host host, long from, long to) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        long start = Math.max(from, shared.raw().startOffset());
        long end = Math.min(to, shared.raw().endOffset());
        if (from < 0 || start > end) {
            throw new IllegalArgumentException("cannot replay from " + from + " to " + to + ": the raw stream holds offsets "
                    + shared.raw().startOffset() + " to " + shared.raw().endOffset());
        }
        synchronized (replays) {
            Replay running = replays.get(name);
            if (running != null && running.running()) {
                throw new IllegalStateException("a replay of '" + name + "' is running already (at offset "
                        + running.info().position() + " of " + running.info().to() + ")");
            }
            if (!replayPermits.tryAcquire()) {
                throw new IllegalStateException(settings.threads() + " replays are running already, as many as [engine] threads allows");
            }
            Replay r = new Replay(name, source, compiled, host, shared, start, end, replayPermits::release);
            replays.put(name, r);
            r.start();
            log.info("replay of {} started: offsets {}..{}", name, start, end);
            return r.info();
        }
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Stops the plugins folder, the tap, replays and every script (each commits its offset), then the runtimes. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (plugins != null) {
            plugins.close();
        }
        tap.close();
        for (Replay r : replays.values()) {
            r.cancel(settings.timeLimitMillis() + 5_000);
        }
        List<ScriptActor> all = new ArrayList<>(actors.values());
        if (passThrough != null) {
            all.add(passThrough);
        }
        all.forEach(ScriptActor::requestStop);
        all.forEach(a -> a.awaitStop(settings.timeLimitMillis() + 5_000));
        compiler.shutdownNow();
        watchdog.close();
        runtimes.close();
        log.info("engine stopped");
    }

    /** Builds an engine over the given streams; {@link #start()} loads the stored scripts and starts them. */
    public static final class Builder {
        private MessageStream raw;
        private MessageStream processed;
        private StatusStore status;
        private io.junction.core.device.FunctionCalls calls;
        private EventHub hub;
        private MeterRegistry metrics;
        private EngineSettings settings = EngineSettings.defaults();
        private Path dir;
        private Path plugins;

        private Builder() {
        }

        public Builder streams(MessageStream raw, MessageStream processed) {
            this.raw = raw;
            this.processed = processed;
            return this;
        }

        /** Where scripts read status from; without one, {@code status} always finds nothing. */
        public Builder status(StatusStore status) {
            this.status = status;
            return this;
        }

        public Builder hub(EventHub hub) {
            this.hub = hub;
            return this;
        }

        /** Where a script's {@code exec} calls go (the devices' modules), as the script's owner. */
        public Builder calls(io.junction.core.device.FunctionCalls calls) {
            this.calls = calls;
            return this;
        }

        public Builder metrics(MeterRegistry metrics) {
            this.metrics = metrics;
            return this;
        }

        public Builder settings(EngineSettings settings) {
            this.settings = settings;
            return this;
        }

        /** The engine's own folder ({@code <data dir>/engine}): scripts and offsets. */
        public Builder dir(Path dir) {
            this.dir = dir;
            return this;
        }

        /** The folder watched for {@code .wasm} plugins; none by default. */
        public Builder plugins(Path plugins) {
            this.plugins = plugins;
            return this;
        }

        public Engine start() {
            Objects.requireNonNull(raw, "raw stream");
            Objects.requireNonNull(processed, "processed stream");
            Objects.requireNonNull(dir, "dir");
            return new Engine(this);
        }
    }
}
