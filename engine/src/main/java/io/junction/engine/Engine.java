package io.junction.engine;

import io.junction.core.RoutingPattern;
import io.junction.core.actor.Actor;
import io.junction.core.actor.ActorException;
import io.junction.core.auth.Principal;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFollower;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The processing engine: user scripts (JavaScript, Python, WASM) bound to routing-key patterns, run on the raw
 * stream into the processed stream, each with its own durable offset; pass-through copies; replays; and the plugins
 * folder. Scripts and their offsets live in the state port. Storing, replacing and deleting scripts go through the
 * engine's actor ({@link EngineCommand}), so they happen one at a time and every script is checked (compiled,
 * {@code process} present, top-level code and {@code init} run under the limits) before it replaces the running
 * version.
 */
public final class Engine implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Engine.class);
    /** The name pass-through's offsets and replays go by; no script may take it. */
    public static final String PASS_THROUGH = "pass-through";
    private static final int MAILBOX = 64;

    private final EngineSettings settings;
    private final Clock clock;
    private final Shared shared;
    private final ScriptStore store;
    private final OffsetWriter offsets;
    private final Runtimes runtimes;
    private final Watchdog watchdog;
    private final Workers workers;
    private final Workers loader;
    /** The running scripts by name: changed only by the actor, read by anyone. */
    private final ConcurrentHashMap<String, ScriptActor> actors = new ConcurrentHashMap<>();
    private final ScriptActor passThrough;
    private final Actor<EngineCommand> actor;
    private final PluginWatcher plugins;
    private volatile boolean closed;

    /** A script compiled and loaded, ready to run. */
    private record Loaded(Runtimes.Compiled compiled, Runner runner) {
    }

    private Engine(Builder b) {
        this.settings = b.settings;
        this.clock = b.clock;
        MeterRegistry metrics = b.metrics != null ? b.metrics : new SimpleMeterRegistry();
        this.store = new ScriptStore(b.state, b.raw.name());
        if (b.dir != null) {
            store.importFiles(b.dir);
        }
        this.watchdog = new Watchdog(settings.timeLimitMillis(), settings.memoryLimitBytes());
        this.runtimes = new Runtimes(settings.memoryLimitBytes());
        this.workers = new Workers("engine-worker", settings.threads(), watchdog);
        this.loader = new Workers("engine-loader", 1, watchdog);
        this.offsets = new OffsetWriter(store, clock);
        this.shared = new Shared(b.raw, b.processed, Optional.ofNullable(b.status), Optional.ofNullable(b.hub),
                Optional.ofNullable(b.calls), store, offsets, runtimes, watchdog, workers, loader, new Semaphore(settings.threads()),
                settings.threads(), settings.failuresBeforeSuspend(), settings.timeLimitMillis(), Shared.Meters.register(metrics));
        Gauge.builder("junction.engine.scripts", actors, Map::size).description("Scripts stored").register(metrics);

        for (ScriptStore.Stored s : store.loadAll()) {
            ScriptSource src = s.source();
            LogRing logs = new LogRing(src.name());
            actors.put(src.name(), new ScriptActor(src.name(), new ScriptActor.Version(s, runtimes.compileStored(src)), null,
                    shared.host(src, logs, true), logs, startOffsets(src.name()), shared, false, clock));
        }
        if (settings.passThrough().isEmpty()) {
            passThrough = null;
        } else {
            // Pass-through is an actor like a script's, whose runner copies each message; it has no source to run.
            ScriptSource src = new ScriptSource(PASS_THROUGH, Language.JAVASCRIPT, "copy".getBytes(StandardCharsets.UTF_8),
                    settings.passThrough().stream().map(RoutingPattern::of).toList(), "config");
            ScriptActor.Version v = new ScriptActor.Version(new ScriptStore.Stored(src, 1, 0),
                    new Runtimes.Compiled(src, null, "pass-through cannot be reloaded"));
            LogRing logs = new LogRing(PASS_THROUGH);
            passThrough = new ScriptActor(PASS_THROUGH, v, Runtimes.passThrough(), shared.host(src, logs, true), logs,
                    startOffsets(PASS_THROUGH), shared, true, clock);
        }
        this.actor = Actor.start("engine", MAILBOX, clock, this::handle);
        this.plugins = b.plugins == null ? null : new PluginWatcher(b.plugins, this, clock);
        log.info("engine started: {} scripts, pass-through {}, time limit {} ms, memory limit {} MB, threads {}, plugins {}",
                actors.size(), settings.passThrough(), settings.timeLimitMillis(), settings.memoryLimitBytes() / (1024 * 1024),
                settings.threads(), b.plugins == null ? "off" : b.plugins);
    }

    private ScriptStore.Offsets startOffsets(String name) {
        return store.offsets(name).orElseGet(() -> {
            ScriptStore.Offsets o = new ScriptStore.Offsets(shared.raw().endOffset(), shared.processed().endOffset());
            store.saveOffsets(name, o);
            return o;
        });
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Stores a script: checks it (a {@link ScriptRejectedException} with the language's message and line when it does
     * not compile, lacks {@code process}, or fails in its top-level code or {@code init}), saves it, and swaps it in —
     * a new script starts at the end of the raw stream; a new version of a script takes over from the next message,
     * with nothing lost or repeated. A {@link io.junction.core.state.VersionConflictException} when another node
     * changed the script meanwhile. Returns the script as it is afterwards.
     */
    public ScriptInfo store(ScriptSource source) {
        if (source.name().equals(PASS_THROUGH)) {
            throw new IllegalArgumentException("the script name '" + PASS_THROUGH + "' is reserved for the engine's pass-through");
        }
        return ask(reply -> new EngineCommand.Store(source, reply));
    }

    /** Stores a module found in the plugins folder, unless it is already the running version. */
    boolean storePlugin(String name, byte[] module, Optional<List<RoutingPattern>> bind) {
        return ask(reply -> new EngineCommand.StorePlugin(name, module, bind, reply));
    }

    /** Deletes the script {@code name} if it came from the plugins folder (its file was removed). */
    void deletePlugin(String name) {
        this.<Boolean>ask(reply -> new EngineCommand.Delete(name, true, reply));
    }

    /** Deletes a script: stops it, cancels its replay, and removes its records. False when there is no such script. */
    public boolean delete(String name) {
        return ask(reply -> new EngineCommand.Delete(name, false, reply));
    }

    private <T> T ask(Function<CompletableFuture<T>, EngineCommand> request) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        return await(actor.ask(request));
    }

    // ---- the actor ----

    private void handle(EngineCommand command) {
        switch (command) {
            case EngineCommand.Store s -> s.reply().complete(doStore(s.source()));
            case EngineCommand.StorePlugin p -> p.reply().complete(doStorePlugin(p));
            case EngineCommand.Delete d -> d.reply().complete(doDelete(d.name(), d.pluginOnly()));
        }
    }

    private ScriptInfo doStore(ScriptSource src) {
        ScriptActor existing = actors.get(src.name());
        LogRing logs = existing != null ? existing.logs() : new LogRing(src.name());
        Host host = shared.host(src, logs, true);
        Loaded loaded = loader.call(g -> {
            Runtimes.Compiled c = runtimes.compile(src);
            return new Loaded(c, runtimes.instantiate(c, host, g));
        });
        Optional<ScriptStore.Found> found = store.find(src.name());
        long version = found.map(f -> f.stored().version() + 1).orElse(1L);
        ScriptStore.Stored stored = new ScriptStore.Stored(src, version, clock.millis());
        try {
            store.save(stored, found.map(ScriptStore.Found::revision).orElse(StateStore.ABSENT));
        } catch (RuntimeException e) {
            loader.call(g -> {
                loaded.runner().close(g);
                return null;
            });
            throw e;
        }
        ScriptActor.Version v = new ScriptActor.Version(stored, loaded.compiled());
        ScriptActor a = existing;
        if (a != null) {
            long wait = settings.timeLimitMillis() + 2_000;
            try {
                // The swap happens between two messages; wait for it so the answer shows the new version at work.
                a.replace(v, loaded.runner(), host).get(wait, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("script={} version {} is not in place yet after {} ms", src.name(), version, wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while swapping in script " + src.name(), e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("script " + src.name() + " could not take version " + version + ": " + e.getCause(), e.getCause());
            }
        } else {
            ScriptStore.Offsets start = new ScriptStore.Offsets(shared.raw().endOffset(), shared.processed().endOffset());
            store.saveOffsets(src.name(), start);
            a = new ScriptActor(src.name(), v, loaded.runner(), host, logs, start, shared, false, clock);
            actors.put(src.name(), a);
        }
        log.info("script={} version={} language={} bind={} stored ({})", src.name(), version, src.language().id(),
                src.bindValues(), src.origin());
        shared.publish(new ScriptEvent(src.name(), "stored", version, src.language().id() + " " + src.bindValues()));
        return await(a.status(true));
    }

    private boolean doStorePlugin(EngineCommand.StorePlugin p) {
        Optional<ScriptSource> existing = actors.containsKey(p.name())
                ? store.find(p.name()).map(f -> f.stored().source()) : Optional.empty();
        List<RoutingPattern> patterns = p.bind().orElseGet(() -> existing.map(ScriptSource::bind).orElse(List.of(RoutingPattern.ALL)));
        if (existing.isPresent()) {
            ScriptSource s = existing.get();
            if (s.language() == Language.WASM && MessageDigest.isEqual(ScriptActor.sha256(s.code()), ScriptActor.sha256(p.module()))
                    && s.bind().equals(patterns)) {
                return false;
            }
        }
        // The plugins folder belongs to whoever runs the server: its scripts act with the server's rights.
        doStore(new ScriptSource(p.name(), Language.WASM, p.module(), patterns, "plugin", Principal.SYSTEM));
        return true;
    }

    private boolean doDelete(String name, boolean pluginOnly) {
        ScriptActor a = actors.get(name);
        if (a == null) {
            return false;
        }
        Optional<ScriptStore.Found> found = store.find(name);
        if (pluginOnly && !found.map(f -> f.stored().source().origin().equals("plugin")).orElse(false)) {
            return false;
        }
        actors.remove(name);
        a.stop(settings.timeLimitMillis() + 5_000);
        // Its last commit first, so the delete is the last word.
        offsets.flush();
        store.delete(name, found.map(ScriptStore.Found::revision).orElse(StateStore.ANY));
        log.info("script={} deleted", name);
        shared.publish(new ScriptEvent(name, "deleted", found.map(f -> f.stored().version()).orElse(0L), ""));
        return true;
    }

    // ---- reads and replays: asked of each script's actor ----

    /** Every script, by name, without their sources. */
    public List<ScriptInfo> scripts() {
        List<String> names = new ArrayList<>(actors.keySet());
        names.sort(null);
        List<CompletableFuture<ScriptInfo>> asked = new ArrayList<>();
        for (String n : names) {
            ScriptActor a = actors.get(n);
            asked.add(a == null ? null : a.status(false));
        }
        List<ScriptInfo> out = new ArrayList<>();
        for (CompletableFuture<ScriptInfo> f : asked) {
            if (f != null) {
                status(f).ifPresent(out::add);
            }
        }
        return out;
    }

    /** One script with its source, state, counters, recent errors and logs, and its latest replay. */
    public Optional<ScriptInfo> script(String name) {
        ScriptActor a = actors.get(name);
        return a == null ? Optional.empty() : status(a.status(true));
    }

    /** A script's status; empty when it was deleted while we asked. */
    private static Optional<ScriptInfo> status(CompletableFuture<ScriptInfo> f) {
        try {
            return Optional.of(f.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a script", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ActorException a && a.kind() == ActorException.Kind.CLOSED) {
                return Optional.empty();
            }
            throw unwrap(e);
        }
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
        return startReplay(a, from, to);
    }

    /** Copies raw offsets {@code from}..{@code to} that match the pass-through patterns again, as replayed messages. */
    public ReplayInfo replayPassThrough(long from, long to) {
        if (passThrough == null) {
            throw new IllegalStateException("no pass-through patterns are configured ([engine] pass_through)");
        }
        return startReplay(passThrough, from, to);
    }

    /** The latest replay of {@code name} (a script, or {@link #PASS_THROUGH}). */
    public Optional<ReplayInfo> replayInfo(String name) {
        ScriptActor a = name.equals(PASS_THROUGH) ? passThrough : actors.get(name);
        return a == null ? Optional.empty() : status(a.status(false)).map(ScriptInfo::replay);
    }

    private ReplayInfo startReplay(ScriptActor a, long from, long to) {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
        long start = Math.max(from, shared.raw().startOffset());
        long end = Math.min(to, shared.raw().endOffset());
        if (from < 0 || start > end) {
            throw new IllegalArgumentException("cannot replay from " + from + " to " + to + ": the raw stream holds offsets "
                    + shared.raw().startOffset() + " to " + shared.raw().endOffset());
        }
        return await(a.replay(start, end));
    }

    /** The answer of a command; its failure as thrown by the handler, or an {@link IllegalStateException} that says why. */
    private static <T> T await(CompletableFuture<T> reply) {
        try {
            return reply.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the engine", e);
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    private static RuntimeException unwrap(ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof ActorException a) {
            return new IllegalStateException(a.kind() == ActorException.Kind.MAILBOX_FULL
                    ? "the engine is busy storing other scripts; try again in a moment" : "the engine is closed", a);
        }
        if (c instanceof RuntimeException r) {
            return r;
        }
        return new IllegalStateException(c.toString(), c);
    }

    /**
     * Stops the plugins folder, lets a change in hand finish, then stops every script (each commits its offset and
     * cancels its replay), then the threads and the runtimes.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (plugins != null) {
            plugins.close();
        }
        actor.close(Duration.ofMillis(TimeUnit.NANOSECONDS.toMillis(watchdog.loadTimeLimitNanos()) + 5_000));
        List<ScriptActor> all = new ArrayList<>(actors.values());
        if (passThrough != null) {
            all.add(passThrough);
        }
        List<CompletableFuture<StreamFollower>> stopping = all.stream().map(ScriptActor::requestStop).toList();
        for (int i = 0; i < all.size(); i++) {
            all.get(i).awaitStop(stopping.get(i), settings.timeLimitMillis() + 5_000);
        }
        offsets.close();
        workers.close();
        loader.close();
        watchdog.close();
        runtimes.close();
        log.info("engine stopped");
    }

    /** Builds an engine over the given streams and state; {@link #start()} loads the stored scripts and starts them. */
    public static final class Builder {
        private MessageStream raw;
        private MessageStream processed;
        private StateStore state;
        private StatusStore status;
        private io.junction.core.device.FunctionCalls calls;
        private EventHub hub;
        private MeterRegistry metrics;
        private EngineSettings settings = EngineSettings.defaults();
        private Clock clock = Clock.systemUTC();
        private Path dir;
        private Path plugins;

        private Builder() {
        }

        public Builder streams(MessageStream raw, MessageStream processed) {
            this.raw = raw;
            this.processed = processed;
            return this;
        }

        /** Where scripts and their offsets are kept. */
        public Builder state(StateStore state) {
            this.state = state;
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

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /**
         * The engine's folder of older servers ({@code <data dir>/engine}): its script and offsets files are imported
         * into the state once.
         */
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
            Objects.requireNonNull(state, "state");
            return new Engine(this);
        }
    }
}
