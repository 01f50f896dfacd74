package io.junction.media.workflow;

import io.junction.core.actor.Mailbox;
import io.junction.media.MediaSettings;
import io.junction.core.hub.EventHub;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.reactor.SimpleHttpExecutor;
import io.junction.media.rtmp.MediaPacket;
import io.junction.media.rtmp.MediaSink;
import io.junction.media.rtmp.RtmpGate;
import io.junction.media.rtmp.RtmpPlayer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The workflow manager: the actor that starts, updates and stops workflows (from the config file, the API and
 * reactors) and decides, as the RTMP endpoint's {@link RtmpGate}, which publishes and plays they accept. A publish
 * goes to every running workflow whose {@code rtmp_receive} step accepts its app and stream key; when none does, a
 * reactor that serves the app is asked which workflows the stream should have, and keeps them while it lives.
 */
public final class WorkflowManager implements RtmpGate, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WorkflowManager.class);

    private sealed interface Command permits Put, Remove, ListAll, Get, Publish, Unpublished, ReactorAnswer, Tick {
    }

    /** Create or update a workflow; answers its view once applied. */
    private record Put(WorkflowDefinition definition, String source, CompletableFuture<Map<String, Object>> answer) implements Command {
    }

    /** Stop and forget a workflow; answers whether it existed. */
    private record Remove(String name, CompletableFuture<Boolean> answer) implements Command {
    }

    private record ListAll(CompletableFuture<List<Map<String, Object>>> answer) implements Command {
    }

    private record Get(String name, CompletableFuture<Optional<Map<String, Object>>> answer) implements Command {
    }

    /** A client wants to publish; answers where its media goes, or fails with {@link Refused}. */
    private record Publish(Session session, CompletableFuture<MediaSink> answer) implements Command {
    }

    /** A publisher stopped. */
    private record Unpublished(Session session) implements Command {
    }

    /** A reactor answered for a session (first ask, or a re-ask when {@code refresh}). */
    private record ReactorAnswer(Session session, SimpleHttpExecutor.Answer answer, boolean refresh) implements Command {
    }

    /** Time to ask a session's reactor again. */
    private record Tick(Session session) implements Command {
    }

    private record Reactor(MediaSettings.ReactorSpec spec, SimpleHttpExecutor executor) {
        boolean serves(String app, String key) {
            return (spec.app().equals("*") || spec.app().equals(app)) && (spec.streamKey().equals("*") || spec.streamKey().equals(key));
        }
    }

    /** One live publish and the workflows its media goes to. */
    private final class Session implements MediaSink {
        final String app;
        final String key;
        final String remote;
        final Runnable close;
        /** Read on the publisher's network thread, replaced on the manager's. */
        volatile Target[] targets = new Target[0];
        Reactor reactor;
        CompletableFuture<MediaSink> pending;
        final Set<String> reactorWorkflows = new HashSet<>();
        ScheduledFuture<?> tick;
        boolean ended;

        Session(String app, String key, String remote, Runnable close) {
            this.app = app;
            this.key = key;
            this.remote = remote;
            this.close = close;
        }

        String id() {
            return app + "/" + key;
        }

        @Override
        public void media(MediaPacket p) {
            for (Target t : targets) {
                t.feed(key, p);
            }
        }

        @Override
        public void end() {
            Unpublished u = new Unpublished(this);
            if (!mailbox.offer(u)) {
                Thread.ofVirtual().start(() -> sendQuietly(u));
            }
        }
    }

    /**
     * A workflow a publisher feeds. When its mailbox is full the frames are skipped until the next key frame (and
     * counted), so a stalled workflow never blocks the publisher's network thread.
     */
    private static final class Target {
        final Workflow workflow;
        boolean skipping;
        long skipped;

        Target(Workflow workflow) {
            this.workflow = workflow;
        }

        void feed(String stream, MediaPacket p) {
            if (skipping && !p.header() && !p.keyframe()) {
                skipped++;
                return;
            }
            if (workflow.offer(new Workflow.Media(stream, Workflow.AT_RECEIVE, -1, p))) {
                if (p.keyframe()) {
                    skipping = false;
                }
            } else {
                skipping = true;
                skipped++;
            }
        }
    }

    private final Mailbox<Command> mailbox;
    private final MediaServices services;
    /** Written by the manager's thread; read by forward steps on workflows' threads. */
    private final ConcurrentHashMap<String, Workflow> workflows = new ConcurrentHashMap<>();
    private final List<Reactor> reactors = new ArrayList<>();
    private final Map<String, Session> sessions = new HashMap<>();
    private final ScheduledExecutorService timers;

    private WorkflowManager(Builder b) {
        this.services = new MediaServices(b.ffmpeg, b.hub, b.hlsRoot, b.gopCacheBytes, new CopyOnWriteArrayList<>(),
                name -> Optional.ofNullable(workflows.get(name)), b.clock);
        for (MediaSettings.ReactorSpec r : b.reactors) {
            reactors.add(new Reactor(r, new SimpleHttpExecutor(r.name(), URI.create(r.url()),
                    Duration.ofMillis(r.timeoutMillis()), b.reactorRetryDelay)));
        }
        this.timers = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("workflow-timers").factory());
        this.mailbox = new Mailbox<Command>("workflow-manager", 1024).start(this::handle);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Creates or updates {@code definition}; completes with its view once applied. */
    public CompletableFuture<Map<String, Object>> put(WorkflowDefinition definition, String source) {
        CompletableFuture<Map<String, Object>> f = new CompletableFuture<>();
        mailbox.send(new Put(definition, source, f));
        return f;
    }

    /** Stops and removes a workflow; completes with whether there was one. */
    public CompletableFuture<Boolean> remove(String name) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        mailbox.send(new Remove(name, f));
        return f;
    }

    public CompletableFuture<List<Map<String, Object>>> list() {
        CompletableFuture<List<Map<String, Object>>> f = new CompletableFuture<>();
        mailbox.send(new ListAll(f));
        return f;
    }

    public CompletableFuture<Optional<Map<String, Object>>> get(String name) {
        CompletableFuture<Optional<Map<String, Object>>> f = new CompletableFuture<>();
        mailbox.send(new Get(name, f));
        return f;
    }

    @Override
    public CompletableFuture<MediaSink> publish(String app, String streamKey, String remote, Runnable close) {
        CompletableFuture<MediaSink> f = new CompletableFuture<>();
        if (!mailbox.offer(new Publish(new Session(app, streamKey, remote, close), f))) {
            f.completeExceptionally(new Refused("the server is too busy to take a publish now; try again"));
        }
        return f;
    }

    @Override
    public void play(String app, String streamKey, RtmpPlayer player) throws Refused {
        for (WatchStep w : services.watchers()) {
            if (w.serves(app, streamKey)) {
                w.play(streamKey, player);
                return;
            }
        }
        throw new Refused("no workflow serves players on app '" + app + "' for stream '" + streamKey + "'");
    }

    private void sendQuietly(Command c) {
        try {
            mailbox.send(c);
        } catch (IllegalStateException closed) {
            // the manager is closing; nothing is left to tell
        }
    }

    private void handle(Command c) {
        switch (c) {
            case Put p -> {
                Workflow w = upsert(p.definition(), p.source());
                w.apply(p.definition(), p.source())
                        .thenCompose(changed -> w.snapshot())
                        .whenComplete((view, e) -> {
                            if (e != null) {
                                p.answer().completeExceptionally(e);
                            } else {
                                p.answer().complete(view);
                            }
                        });
            }
            case Remove r -> r.answer().complete(removeWorkflow(r.name(), "removed"));
            case ListAll l -> {
                List<CompletableFuture<Map<String, Object>>> views = new ArrayList<>();
                for (Workflow w : sortedWorkflows()) {
                    views.add(w.snapshot());
                }
                CompletableFuture.allOf(views.toArray(new CompletableFuture<?>[0])).whenComplete((v, e) -> {
                    List<Map<String, Object>> out = new ArrayList<>();
                    for (CompletableFuture<Map<String, Object>> f : views) {
                        out.add(f.join());
                    }
                    l.answer().complete(out);
                });
            }
            case Get g -> {
                Workflow w = workflows.get(g.name());
                if (w == null) {
                    g.answer().complete(Optional.empty());
                } else {
                    w.snapshot().whenComplete((v, e) -> g.answer().complete(Optional.ofNullable(v)));
                }
            }
            case Publish p -> publish(p);
            case Unpublished u -> unpublished(u.session());
            case ReactorAnswer a -> reactorAnswer(a);
            case Tick t -> {
                Session s = t.session();
                if (!s.ended) {
                    ask(s, true);
                }
            }
        }
    }

    private List<Workflow> sortedWorkflows() {
        List<Workflow> list = new ArrayList<>(workflows.values());
        list.sort(java.util.Comparator.comparing(Workflow::name));
        return list;
    }

    /** Makes sure a workflow of that name exists, and lets live publishes it accepts flow into it. */
    private Workflow upsert(WorkflowDefinition d, String source) {
        Workflow w = workflows.computeIfAbsent(d.name(), n -> new Workflow(n, services));
        if (!source.startsWith("reactor:")) {
            for (Session s : sessions.values()) {
                if (s.reactor == null && d.receiveIndex(s.app, s.key) >= 0) {
                    attach(s, w);
                }
            }
        }
        return w;
    }

    private boolean removeWorkflow(String name, String why) {
        Workflow w = workflows.remove(name);
        if (w == null) {
            return false;
        }
        w.stop();
        for (Session s : new ArrayList<>(sessions.values())) {
            detach(s, w);
            s.reactorWorkflows.remove(name);
            if (s.targets.length == 0 && s.pending == null) {
                log.info("publish of {} from {} ends: workflow {} was {}", s.id(), s.remote, name, why);
                s.close.run();
            }
        }
        return true;
    }

    private void attach(Session s, Workflow w) {
        for (Target t : s.targets) {
            if (t.workflow == w) {
                return;
            }
        }
        w.post(new Workflow.StreamStart(s.key, s.app, Workflow.AT_RECEIVE, -1, "rtmp " + s.id() + " from " + s.remote));
        Target[] next = java.util.Arrays.copyOf(s.targets, s.targets.length + 1);
        next[next.length - 1] = new Target(w);
        s.targets = next;
    }

    private void detach(Session s, Workflow w) {
        List<Target> keep = new ArrayList<>();
        boolean found = false;
        for (Target t : s.targets) {
            if (t.workflow == w) {
                found = true;
            } else {
                keep.add(t);
            }
        }
        if (found) {
            s.targets = keep.toArray(new Target[0]);
            w.post(new Workflow.StreamEnd(s.key, Workflow.AT_RECEIVE, -1));
        }
    }

    private void publish(Publish p) {
        Session s = p.session();
        if (sessions.containsKey(s.id())) {
            p.answer().completeExceptionally(new Refused(s.id() + " is already being published"));
            return;
        }
        List<Workflow> claim = new ArrayList<>();
        for (Workflow w : sortedWorkflows()) {
            WorkflowDefinition d = w.definition();
            Workflow.State st = w.state();
            if (d != null && (st == Workflow.State.ACTIVE || st == Workflow.State.PENDING) && d.receiveIndex(s.app, s.key) >= 0) {
                claim.add(w);
            }
        }
        if (!claim.isEmpty()) {
            sessions.put(s.id(), s);
            for (Workflow w : claim) {
                attach(s, w);
            }
            p.answer().complete(s);
            return;
        }
        for (Reactor r : reactors) {
            if (r.serves(s.app, s.key)) {
                s.reactor = r;
                s.pending = p.answer();
                sessions.put(s.id(), s);
                ask(s, false);
                return;
            }
        }
        p.answer().completeExceptionally(new Refused("no workflow accepts a publish on app '" + s.app + "' with stream key '" + s.key + "'"));
    }

    private void ask(Session s, boolean refresh) {
        Reactor r = s.reactor;
        Thread.ofVirtual().name("reactor-" + r.spec().name()).start(() -> {
            SimpleHttpExecutor.Answer answer;
            try {
                answer = r.executor().ask(s.key);
            } catch (InterruptedException e) {
                answer = new SimpleHttpExecutor.Failed("interrupted");
            } catch (RuntimeException e) {
                answer = new SimpleHttpExecutor.Failed(e.toString());
            }
            sendQuietly(new ReactorAnswer(s, answer, refresh));
        });
    }

    private void reactorAnswer(ReactorAnswer a) {
        Session s = a.session();
        String reactor = s.reactor.spec().name();
        if (s.ended) {
            return;
        }
        List<WorkflowDefinition> defs = null;
        String problem = null;
        switch (a.answer()) {
            case SimpleHttpExecutor.NotFound nf -> problem = "reactor '" + reactor + "' has no workflow for stream '" + s.key + "'";
            case SimpleHttpExecutor.Failed f -> problem = "reactor '" + reactor + "' could not be asked: " + f.reason();
            case SimpleHttpExecutor.Found found -> {
                try {
                    defs = Definitions.fromReactorAnswer(found.body());
                } catch (DefinitionException e) {
                    problem = "reactor '" + reactor + "' gave an invalid answer: " + e.getMessage();
                }
            }
        }
        if (defs == null) {
            log.warn("reactor={} stream={} refresh={}: {}", reactor, s.id(), a.refresh(), problem);
            if (!a.refresh()) {
                sessions.remove(s.id(), s);
                CompletableFuture<MediaSink> pending = s.pending;
                s.pending = null;
                pending.completeExceptionally(new Refused(problem));
            } else if (a.answer() instanceof SimpleHttpExecutor.NotFound) {
                // The service no longer wants the stream: its workflows go, and so does the publish.
                for (String name : new ArrayList<>(s.reactorWorkflows)) {
                    removeWorkflow(name, "no longer returned by reactor " + reactor);
                }
                s.close.run();
            } else {
                scheduleTick(s);
            }
            return;
        }
        String source = "reactor:" + reactor;
        Set<String> returned = new HashSet<>();
        for (WorkflowDefinition d : defs) {
            returned.add(d.name());
            Workflow w = upsert(d, source);
            w.apply(d, source);
            s.reactorWorkflows.add(d.name());
            attach(s, w);
        }
        for (String name : new ArrayList<>(s.reactorWorkflows)) {
            if (!returned.contains(name)) {
                s.reactorWorkflows.remove(name);
                removeWorkflow(name, "no longer returned by reactor " + reactor);
            }
        }
        log.info("reactor={} stream={} workflows={} refresh={}", reactor, s.id(), returned, a.refresh());
        if (s.pending != null) {
            CompletableFuture<MediaSink> pending = s.pending;
            s.pending = null;
            pending.complete(s);
        }
        scheduleTick(s);
    }

    private void scheduleTick(Session s) {
        long every = s.reactor.spec().updateIntervalSeconds();
        if (every > 0 && !s.ended) {
            s.tick = timers.schedule(() -> {
                if (!mailbox.offer(new Tick(s))) {
                    log.warn("reactor re-ask for {} skipped: the workflow manager is busy", s.id());
                    scheduleTick(s);
                }
            }, every, TimeUnit.SECONDS);
        }
    }

    private void unpublished(Session s) {
        s.ended = true;
        sessions.remove(s.id(), s);
        if (s.tick != null) {
            s.tick.cancel(false);
        }
        for (Target t : s.targets) {
            t.workflow.post(new Workflow.StreamEnd(s.key, Workflow.AT_RECEIVE, -1));
        }
        s.targets = new Target[0];
        for (String name : new ArrayList<>(s.reactorWorkflows)) {
            removeWorkflow(name, "left behind by the end of stream " + s.id());
        }
        s.reactorWorkflows.clear();
        log.info("publish of {} from {} ended", s.id(), s.remote);
    }

    /** Stops every workflow (and so their ffmpeg processes and players) and the manager. */
    @Override
    public void close() {
        timers.shutdownNow();
        mailbox.close(5_000);
        List<CompletableFuture<Void>> stops = new ArrayList<>();
        for (Workflow w : workflows.values()) {
            stops.add(w.stop());
        }
        workflows.clear();
        try {
            CompletableFuture.allOf(stops.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("workflows did not all stop in time: {}", e.toString());
        }
    }

    /** Builds the manager. */
    public static final class Builder {
        private FfmpegEndpoint ffmpeg;
        private EventHub hub;
        private Path hlsRoot;
        private int gopCacheBytes = 4 * 1024 * 1024;
        private List<MediaSettings.ReactorSpec> reactors = List.of();
        private Duration reactorRetryDelay = Duration.ofSeconds(1);
        private Clock clock = Clock.systemUTC();

        public Builder ffmpeg(FfmpegEndpoint ffmpeg) {
            this.ffmpeg = ffmpeg;
            return this;
        }

        public Builder hub(EventHub hub) {
            this.hub = hub;
            return this;
        }

        /** The folder under which HLS steps write {@code <workflow>/<stream>/index.m3u8}. */
        public Builder hlsRoot(Path hlsRoot) {
            this.hlsRoot = hlsRoot;
            return this;
        }

        public Builder gopCacheBytes(int bytes) {
            this.gopCacheBytes = bytes;
            return this;
        }

        public Builder reactors(List<MediaSettings.ReactorSpec> reactors) {
            this.reactors = List.copyOf(reactors);
            return this;
        }

        /** The delay before a reactor's second try (the third waits twice as long). */
        public Builder reactorRetryDelay(Duration delay) {
            this.reactorRetryDelay = delay;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        public WorkflowManager start() {
            java.util.Objects.requireNonNull(ffmpeg, "ffmpeg");
            java.util.Objects.requireNonNull(hub, "hub");
            java.util.Objects.requireNonNull(hlsRoot, "hlsRoot");
            return new WorkflowManager(this);
        }
    }
}
