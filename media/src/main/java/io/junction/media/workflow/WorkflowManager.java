package io.junction.media.workflow;

import io.junction.core.Json;
import io.junction.core.actor.Actor;
import io.junction.media.MediaSettings;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.reactor.SimpleHttpExecutor;
import io.junction.media.rtmp.MediaPacket;
import io.junction.media.rtmp.MediaSink;
import io.junction.media.rtmp.RtmpGate;
import io.junction.media.rtmp.RtmpPlayer;
import io.junction.media.workflow.WorkflowManagerCommand.AskReactor;
import io.junction.media.workflow.WorkflowManagerCommand.Get;
import io.junction.media.workflow.WorkflowManagerCommand.GraceOver;
import io.junction.media.workflow.WorkflowManagerCommand.ListAll;
import io.junction.media.workflow.WorkflowManagerCommand.Publish;
import io.junction.media.workflow.WorkflowManagerCommand.Put;
import io.junction.media.workflow.WorkflowManagerCommand.ReactorAnswered;
import io.junction.media.workflow.WorkflowManagerCommand.Remove;
import io.junction.media.workflow.WorkflowManagerCommand.Restore;
import io.junction.media.workflow.WorkflowManagerCommand.Unpublished;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The workflow manager: the actor that starts, updates and stops workflows (from the config file, the API and
 * reactors) and decides, as the RTMP endpoint's {@link RtmpGate}, which publishes and plays they accept. A publish
 * goes to every running workflow whose {@code rtmp_receive} step accepts its app and stream key; when none does, a
 * reactor that serves the app is asked which workflows the stream should have, and keeps them while it lives.
 *
 * <p>Workflows defined through the API are kept in the state port (collection {@value #COLLECTION}) and started
 * again on the next start; the config file's come from the config file every time. Reactor tries, their retries and
 * re-asks are timers of this actor on the injected clock, one per publish (a newer one replaces an older one); the
 * HTTP question itself runs on a virtual thread that reports back with a command.
 */
public final class WorkflowManager implements RtmpGate, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WorkflowManager.class);
    /** Where workflows defined through the API are kept, by name. */
    static final String COLLECTION = "workflows";
    /** The source of workflows defined through the API: the only ones the state port keeps. */
    static final String API = "api";
    private static final int MAILBOX = 1024;

    private record Reactor(MediaSettings.ReactorSpec spec, SimpleHttpExecutor executor) {
        boolean serves(String app, String key) {
            return (spec.app().equals("*") || spec.app().equals(app)) && (spec.streamKey().equals("*") || spec.streamKey().equals(key));
        }
    }

    /** The tag of a publish's reactor timer (a retry or a re-ask): a newer one replaces an older one. */
    private record ReactorTimer(long session) {
    }

    /** The tag of the timer that ends a stream's publisher grace period (its reactor workflows wait until then). */
    private record GraceTimer(String id) {
    }

    /** The tag of a publish's end, when the mailbox was full as it came: delivered as a timer instead. */
    private record EndTimer(long session) {
    }

    /** One live publish and the workflows its media goes to. */
    private final class Session implements MediaSink {
        final long serial;
        final String app;
        final String key;
        final String remote;
        final Runnable close;
        /** Read on the publisher's network thread, replaced on the manager's. */
        volatile Target[] targets = new Target[0];
        Reactor reactor;
        /** The publish's answer while its reactor's first answer is awaited. */
        CompletableFuture<MediaSink> pending;
        final Set<String> reactorWorkflows = new HashSet<>();
        boolean ended;
        /** Whether the endpoint was told to end the publish. */
        boolean closing;
        /**
         * The metadata, sequence headers and current group of pictures, for a workflow that starts taking the publish
         * while it is live. Only touched on the publisher's network thread.
         */
        final StreamCache cache = new StreamCache(services.gopCacheBytes());

        Session(long serial, String app, String key, String remote, Runnable close) {
            this.serial = serial;
            this.app = app;
            this.key = key;
            this.remote = remote;
            this.close = close;
        }

        String id() {
            return app + "/" + key;
        }

        /** Tells the endpoint to end the publish (once). */
        void closePublish() {
            if (!closing) {
                closing = true;
                close.run();
            }
        }

        @Override
        public void media(MediaPacket p) {
            for (Target t : targets) {
                if (!t.primed) {
                    // A workflow attached while the publish is live starts with what it needs to decode it.
                    t.primed = true;
                    for (MediaPacket q : cache.replay()) {
                        t.feed(key, q);
                    }
                }
                t.feed(key, p);
            }
            cache.remember(p);
        }

        /** On the publisher's network thread: never blocks, and the end is never lost (a timer is never refused). */
        @Override
        public void end() {
            Unpublished u = new Unpublished(serial);
            if (!actor.tell(u) && !actor.isClosed()) {
                actor.schedule(actor.clock().instant(), new EndTimer(serial), u);
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
        /** Whether it was given the publish's cache (on the publisher's network thread, before its first packet). */
        boolean primed;

        Target(Workflow workflow) {
            this.workflow = workflow;
        }

        void feed(String stream, MediaPacket p) {
            if (skipping && !p.header() && !p.keyframe()) {
                skipped++;
                return;
            }
            if (workflow.offer(new WorkflowCommand.Media(stream, Workflow.AT_RECEIVE, -1, p))) {
                if (p.keyframe()) {
                    skipping = false;
                }
            } else {
                skipping = true;
                skipped++;
            }
        }
    }

    private final MediaServices services;
    private final Optional<StateStore> state;
    /** Written on the manager's thread only; read by forward steps on workflows' threads. */
    private final ConcurrentHashMap<String, Workflow> workflows = new ConcurrentHashMap<>();
    /**
     * Every workflow's latest definition, as asked for (a workflow applies it on its own thread, later): what a new
     * definition's {@code rtmp_watch} steps and {@code forward_to_workflow} steps (loops) are checked against.
     */
    private final Map<String, WorkflowDefinition> defined = new HashMap<>();
    /** The names of the workflows the state port keeps (defined through the API). */
    private final Set<String> kept = new HashSet<>();
    private final List<Reactor> reactors = new ArrayList<>();
    /** Live publishes by serial, and their serials by app/key. */
    private final Map<Long, Session> sessions = new HashMap<>();
    private final Map<String, Long> sessionIds = new HashMap<>();
    /**
     * By app/key, the reactor workflows of a publish that ended, kept for the publisher grace period so that their
     * players wait for a reconnect: a new publish whose reactor returns them again takes them over as they are.
     */
    private final Map<String, Set<String>> waitingReactorWorkflows = new HashMap<>();
    private long nextSerial = 1;
    private final Actor<WorkflowManagerCommand> actor;

    private WorkflowManager(Builder b) {
        this.services = new MediaServices(b.ffmpeg, b.hub, b.hlsRoot, b.gopCacheBytes, new CopyOnWriteArrayList<>(),
                name -> Optional.ofNullable(workflows.get(name)), b.clock,
                HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()), b.publisherGrace);
        this.state = Optional.ofNullable(b.state);
        for (MediaSettings.ReactorSpec r : b.reactors) {
            reactors.add(new Reactor(r, new SimpleHttpExecutor(URI.create(r.url()), Duration.ofMillis(r.timeoutMillis()),
                    b.reactorRetryDelay)));
        }
        this.actor = Actor.start("workflow-manager", MAILBOX, b.clock, this::handle);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Creates or updates {@code definition}; completes with its view once applied. */
    public CompletableFuture<Map<String, Object>> put(WorkflowDefinition definition, String source) {
        return request(reply -> new Put(definition, source, reply));
    }

    /** Stops and removes a workflow; completes with whether there was one. */
    public CompletableFuture<Boolean> remove(String name) {
        return request(reply -> new Remove(name, reply));
    }

    /** Every workflow's view, by name. */
    public CompletableFuture<List<Map<String, Object>>> list() {
        return request(ListAll::new);
    }

    /** One workflow's view. */
    public CompletableFuture<Optional<Map<String, Object>>> get(String name) {
        return request(reply -> new Get(name, reply));
    }

    /** Enqueues a request, waiting for room (callers are API and start-up threads, which may wait). */
    private <R> CompletableFuture<R> request(Function<CompletableFuture<R>, WorkflowManagerCommand> make) {
        CompletableFuture<R> reply = new CompletableFuture<>();
        actor.send(make.apply(reply));
        return reply;
    }

    @Override
    public CompletableFuture<MediaSink> publish(String app, String streamKey, String remote, Runnable close) {
        CompletableFuture<MediaSink> reply = new CompletableFuture<>();
        if (!actor.tell(new Publish(app, streamKey, remote, close, reply))) {
            return CompletableFuture.failedFuture(new Refused("the server is too busy to take a publish now; try again"));
        }
        return reply;
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

    private void handle(WorkflowManagerCommand c) {
        switch (c) {
            case Restore r -> r.reply().complete(restore());
            case Put p -> put(p);
            case Remove r -> r.reply().complete(removeWorkflow(r.name(), "removed"));
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
                    l.reply().complete(out);
                });
            }
            case Get g -> {
                Workflow w = workflows.get(g.name());
                if (w == null) {
                    g.reply().complete(Optional.empty());
                } else {
                    w.snapshot().whenComplete((v, e) -> g.reply().complete(Optional.ofNullable(v)));
                }
            }
            case Publish p -> publish(p);
            case Unpublished u -> unpublished(u.session());
            case AskReactor a -> {
                Session s = sessions.get(a.session());
                if (s != null && !s.ended) {
                    ask(s, a.attempt());
                }
            }
            case ReactorAnswered a -> reactorAnswered(a);
            case GraceOver g -> graceOver(g.id());
        }
    }

    /** Starts the workflows the state port keeps; a record that is no longer a valid definition is skipped. */
    private int restore() {
        if (state.isEmpty()) {
            return 0;
        }
        int started = 0;
        for (StateRecord r : state.get().list(COLLECTION)) {
            WorkflowDefinition d;
            try {
                d = Definitions.fromJson(r.key(), Json.parse(r.json()));
            } catch (IOException | DefinitionException e) {
                log.warn("workflow={} event=not_restored reason=\"{}\" (the stored definition is kept; PUT it again to replace it)",
                        r.key(), e.getMessage());
                continue;
            }
            try {
                WorkflowConflictException.checkWatches(d, defined.values());
            } catch (WorkflowConflictException | DefinitionException e) {
                log.warn("workflow={} event=not_restored reason=\"{}\" (the stored definition is kept; PUT it again to replace it)",
                        r.key(), e.getMessage());
                continue;
            }
            Optional<String> loop = loopClosedBy(d);
            if (loop.isPresent()) {
                log.warn("workflow={} event=not_restored reason=\"{}\" (the stored definition is kept; PUT another one to replace it)",
                        r.key(), loop.get());
                continue;
            }
            kept.add(d.name());
            defined.put(d.name(), d);
            upsert(d, API).apply(d, API);
            started++;
        }
        if (started > 0) {
            log.info("workflows restored from the state port: {}", started);
        }
        return started;
    }

    private void put(Put p) {
        WorkflowDefinition d = p.definition();
        try {
            WorkflowConflictException.checkWatches(d, defined.values());
        } catch (WorkflowConflictException | DefinitionException e) {
            log.info("workflow={} event=refused source={} reason=\"{}\"", d.name(), p.source(), e.getMessage());
            p.reply().completeExceptionally(e);
            return;
        }
        Optional<String> loop = loopClosedBy(d);
        if (loop.isPresent()) {
            log.info("workflow={} event=refused source={} reason=\"{}\"", d.name(), p.source(), loop.get());
            p.reply().completeExceptionally(new ForwardLoopException(loop.get()));
            return;
        }
        // The state port first: when it cannot keep the definition, the workflow is left as it was.
        keep(d, p.source());
        defined.put(d.name(), d);
        Workflow w = upsert(d, p.source());
        w.apply(d, p.source())
                .thenCompose(changed -> w.snapshot())
                .whenComplete((view, e) -> {
                    if (e != null) {
                        p.reply().completeExceptionally(e);
                    } else {
                        p.reply().complete(view);
                    }
                });
    }

    /** Keeps a definition from the API in the state port; a workflow of that name from elsewhere is no longer kept. */
    private void keep(WorkflowDefinition d, String source) {
        if (state.isEmpty()) {
            return;
        }
        if (source.equals(API)) {
            state.get().put(COLLECTION, d.name(), Definitions.toJson(d).toString());
            kept.add(d.name());
        } else {
            forget(d.name());
        }
    }

    private void forget(String name) {
        if (state.isPresent() && kept.contains(name)) {
            state.get().delete(COLLECTION, name);
            kept.remove(name);
        }
    }

    private List<Workflow> sortedWorkflows() {
        List<Workflow> list = new ArrayList<>(workflows.values());
        list.sort(Comparator.comparing(Workflow::name));
        return list;
    }

    /** The loop of forwards {@code d} would close with the workflows defined now, in a sentence. */
    private Optional<String> loopClosedBy(WorkflowDefinition d) {
        return ForwardLoops.closedBy(d, name -> Optional.ofNullable(defined.get(name)));
    }

    /** Makes sure a workflow of that name exists, and lets live publishes it accepts flow into it. */
    private Workflow upsert(WorkflowDefinition d, String source) {
        defined.put(d.name(), d);
        if (!source.startsWith("reactor:")) {
            // The API or the config file takes the name over: it no longer waits to be removed with a reactor's stream.
            stopWaiting(d.name());
        }
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
        forget(name);
        defined.remove(name);
        stopWaiting(name);
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
                s.closePublish();
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
        w.post(new WorkflowCommand.StreamStart(s.key, s.app, Workflow.AT_RECEIVE, -1, "rtmp " + s.id() + " from " + s.remote));
        Target[] next = Arrays.copyOf(s.targets, s.targets.length + 1);
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
            w.post(new WorkflowCommand.StreamEnd(s.key, Workflow.AT_RECEIVE, -1));
        }
    }

    private void publish(Publish p) {
        String id = p.app() + "/" + p.key();
        if (sessionIds.containsKey(id)) {
            p.reply().completeExceptionally(new Refused(id + " is already being published"));
            return;
        }
        Session s = new Session(nextSerial++, p.app(), p.key(), p.remote(), p.close());
        List<Workflow> claim = new ArrayList<>();
        for (Workflow w : sortedWorkflows()) {
            if (waitingForReactor(w.name())) {
                // A reactor's, waiting for its stream's reconnect: the reactor decides again whether it serves it.
                continue;
            }
            WorkflowDefinition d = w.definition();
            Workflow.State st = w.state();
            if (d != null && (st == Workflow.State.ACTIVE || st == Workflow.State.PENDING) && d.receiveIndex(s.app, s.key) >= 0) {
                claim.add(w);
            }
        }
        if (!claim.isEmpty()) {
            register(s);
            for (Workflow w : claim) {
                attach(s, w);
            }
            p.reply().complete(s);
            return;
        }
        for (Reactor r : reactors) {
            if (r.serves(s.app, s.key)) {
                s.reactor = r;
                s.pending = p.reply();
                register(s);
                ask(s, 1);
                return;
            }
        }
        p.reply().completeExceptionally(new Refused("no workflow accepts a publish on app '" + s.app + "' with stream key '" + s.key + "'"));
    }

    private void register(Session s) {
        sessions.put(s.serial, s);
        sessionIds.put(s.id(), s.serial);
    }

    private void unregister(Session s) {
        sessions.remove(s.serial);
        sessionIds.remove(s.id(), s.serial);
        actor.cancel(new ReactorTimer(s.serial));
    }

    /** Asks the session's reactor on a virtual thread (the question blocks), which reports back with a command. */
    private void ask(Session s, int attempt) {
        Reactor r = s.reactor;
        long serial = s.serial;
        String key = s.key;
        Thread.ofVirtual().name("reactor-" + r.spec().name()).start(() -> {
            SimpleHttpExecutor.Answer answer;
            try {
                answer = r.executor().attempt(key);
            } catch (InterruptedException e) {
                answer = new SimpleHttpExecutor.Failed("interrupted");
            } catch (RuntimeException e) {
                answer = new SimpleHttpExecutor.Failed(e.toString());
            }
            // false only once the manager closed: nobody is left to tell
            actor.send(new ReactorAnswered(serial, attempt, answer));
        });
    }

    private void reactorAnswered(ReactorAnswered a) {
        Session s = sessions.get(a.session());
        if (s == null || s.ended) {
            return;
        }
        String reactor = s.reactor.spec().name();
        boolean refresh = s.pending == null;
        SimpleHttpExecutor.Answer answer = a.answer();
        if (answer instanceof SimpleHttpExecutor.Unavailable u) {
            if (a.attempt() < SimpleHttpExecutor.TRIES) {
                log.info("reactor={} stream={} retry={} after: {}", reactor, s.key, a.attempt(), u.reason());
                actor.scheduleAfter(s.reactor.executor().delayBefore(a.attempt() + 1), new ReactorTimer(s.serial),
                        new AskReactor(s.serial, a.attempt() + 1));
                return;
            }
            answer = SimpleHttpExecutor.gaveUp(u);
        }
        List<WorkflowDefinition> defs = null;
        String problem = null;
        switch (answer) {
            case SimpleHttpExecutor.NotFound nf -> problem = "reactor '" + reactor + "' has no workflow for stream '" + s.key + "'";
            case SimpleHttpExecutor.Failed f -> problem = "reactor '" + reactor + "' could not be asked: " + f.reason();
            case SimpleHttpExecutor.Unavailable u -> problem = "reactor '" + reactor + "' could not be asked: " + u.reason();
            case SimpleHttpExecutor.Found found -> {
                try {
                    defs = Definitions.fromReactorAnswer(found.body());
                    checkWatches(defs);
                } catch (DefinitionException | WorkflowConflictException e) {
                    defs = null;
                    problem = "reactor '" + reactor + "' gave an invalid answer: " + e.getMessage();
                }
            }
        }
        if (defs == null) {
            log.warn("reactor={} stream={} refresh={}: {}", reactor, s.id(), refresh, problem);
            if (!refresh) {
                unregister(s);
                CompletableFuture<MediaSink> pending = s.pending;
                s.pending = null;
                pending.completeExceptionally(new Refused(problem));
            } else if (answer instanceof SimpleHttpExecutor.NotFound) {
                // The service no longer wants the stream: its workflows go, and so does the publish.
                for (String name : new ArrayList<>(s.reactorWorkflows)) {
                    removeWorkflow(name, "no longer returned by reactor " + reactor);
                }
                s.closePublish();
            } else {
                scheduleReask(s);
            }
            return;
        }
        String source = "reactor:" + reactor;
        Set<String> returned = new HashSet<>();
        String refused = null;
        for (WorkflowDefinition d : defs) {
            Optional<String> loop = loopClosedBy(d);
            if (loop.isPresent()) {
                refused = "reactor '" + reactor + "' returned a workflow that closes a loop: " + loop.get();
                // Refused alone: the rest of the answer applies, and a version of it from an earlier answer stays.
                log.warn("reactor={} stream={} workflow={} refused: {}", reactor, s.id(), d.name(), refused);
                if (s.reactorWorkflows.contains(d.name())) {
                    returned.add(d.name());
                }
                continue;
            }
            returned.add(d.name());
            forget(d.name());
            defined.put(d.name(), d);
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
        Set<String> waited = waitingReactorWorkflows.remove(s.id());
        if (waited != null) {
            // A reconnect within the grace period: what the reactor returned again was taken over above, as it was.
            actor.cancel(new GraceTimer(s.id()));
            for (String name : waited) {
                if (!returned.contains(name) && !inSession(name)) {
                    removeWorkflow(name, "not returned by reactor " + reactor + " for the new publish of " + s.id());
                }
            }
        }
        if (!refresh && returned.isEmpty() && refused != null) {
            // Nothing of the first answer runs: the publish is refused as an invalid answer would be.
            unregister(s);
            CompletableFuture<MediaSink> pending = s.pending;
            s.pending = null;
            pending.completeExceptionally(new Refused(refused));
            return;
        }
        log.info("reactor={} stream={} workflows={} refresh={}", reactor, s.id(), returned, refresh);
        scheduleReask(s);
        if (s.pending != null) {
            CompletableFuture<MediaSink> pending = s.pending;
            s.pending = null;
            pending.complete(s);
        }
    }

    /** Checks a reactor's answer: its workflows' rtmp_watch steps overlap neither each other nor other workflows'. */
    private void checkWatches(List<WorkflowDefinition> answer) {
        Map<String, WorkflowDefinition> all = new HashMap<>(defined);
        for (WorkflowDefinition d : answer) {
            WorkflowConflictException.checkWatches(d, all.values());
            all.put(d.name(), d);
        }
    }

    private void scheduleReask(Session s) {
        long every = s.reactor.spec().updateIntervalSeconds();
        if (every > 0 && !s.ended) {
            actor.scheduleAfter(Duration.ofSeconds(every), new ReactorTimer(s.serial), new AskReactor(s.serial, 1));
        }
    }

    private void unpublished(long serial) {
        Session s = sessions.get(serial);
        if (s == null) {
            return;
        }
        s.ended = true;
        unregister(s);
        for (Target t : s.targets) {
            t.workflow.post(new WorkflowCommand.StreamEnd(s.key, Workflow.AT_RECEIVE, -1));
        }
        s.targets = new Target[0];
        Duration grace = services.publisherGrace();
        if (!grace.isZero() && !s.reactorWorkflows.isEmpty()) {
            // Their players wait for a reconnect; the workflows wait with them.
            waitingReactorWorkflows.computeIfAbsent(s.id(), id -> new HashSet<>()).addAll(s.reactorWorkflows);
            actor.scheduleAfter(grace, new GraceTimer(s.id()), new GraceOver(s.id()));
        } else {
            for (String name : new ArrayList<>(s.reactorWorkflows)) {
                removeWorkflow(name, "left behind by the end of stream " + s.id());
            }
        }
        s.reactorWorkflows.clear();
        log.info("publish of {} from {} ended", s.id(), s.remote);
    }

    private void graceOver(String id) {
        Set<String> waited = waitingReactorWorkflows.remove(id);
        if (waited == null) {
            return;
        }
        for (String name : waited) {
            if (!inSession(name)) {
                removeWorkflow(name, "left behind by the end of stream " + id + " (no publisher came back within "
                        + services.publisherGrace() + ")");
            }
        }
    }

    private void stopWaiting(String workflow) {
        for (Set<String> names : waitingReactorWorkflows.values()) {
            names.remove(workflow);
        }
    }

    private boolean waitingForReactor(String workflow) {
        for (Set<String> names : waitingReactorWorkflows.values()) {
            if (names.contains(workflow)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a live publish's reactor returned {@code workflow} (so it is that publish's now). */
    private boolean inSession(String workflow) {
        for (Session s : sessions.values()) {
            if (s.reactorWorkflows.contains(workflow)) {
                return true;
            }
        }
        return false;
    }

    /** Stops the manager, then every workflow (and so their ffmpeg processes and players). */
    @Override
    public void close() {
        actor.close(Duration.ofSeconds(5));
        // The manager's loop has ended: its workflows are this thread's now.
        List<CompletableFuture<Void>> stops = new ArrayList<>();
        for (Workflow w : workflows.values()) {
            stops.add(w.stop());
        }
        workflows.clear();
        try {
            CompletableFuture.allOf(stops.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            log.warn("workflows did not all stop in time: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Builds the manager. */
    public static final class Builder {
        private FfmpegEndpoint ffmpeg;
        private EventHub hub;
        private Path hlsRoot;
        private StateStore state;
        private int gopCacheBytes = 4 * 1024 * 1024;
        private Duration publisherGrace = Duration.ZERO;
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

        /** Where workflows defined through the API are kept across restarts; without it they last until the stop. */
        public Builder state(StateStore state) {
            this.state = state;
            return this;
        }

        public Builder gopCacheBytes(int bytes) {
            this.gopCacheBytes = bytes;
            return this;
        }

        /**
         * How long {@code rtmp_watch} players wait for a stream whose publisher stopped (0, the default here: they are
         * told at once, with {@code NetStream.Play.UnpublishNotify}).
         */
        public Builder publisherGrace(Duration grace) {
            this.publisherGrace = grace;
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

        /**
         * Starts the manager and, before anything else, the workflows the state port keeps. Throws when the state
         * port cannot be read.
         */
        public WorkflowManager start() {
            Objects.requireNonNull(ffmpeg, "ffmpeg");
            Objects.requireNonNull(hub, "hub");
            Objects.requireNonNull(hlsRoot, "hlsRoot");
            WorkflowManager m = new WorkflowManager(this);
            try {
                m.request(Restore::new).get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                m.close();
                throw new IllegalStateException("cannot restore the workflows defined through the API: " + e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException e) {
                m.close();
                throw new IllegalStateException("restoring the workflows defined through the API took longer than 30 s", e);
            } catch (InterruptedException e) {
                m.close();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while restoring the workflows defined through the API", e);
            }
            return m;
        }
    }
}
