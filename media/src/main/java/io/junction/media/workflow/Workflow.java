package io.junction.media.workflow;

import io.junction.core.actor.Mailbox;
import io.junction.media.rtmp.MediaPacket;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One running workflow: an actor that owns its steps and passes media from each step to the next. Steps start
 * pending and become active; when one fails, the workflow goes to the failed state and stops all its steps; applying
 * a different definition restarts the steps and announces the live streams to the new ones.
 *
 * <p>Media enters through {@link #offer}: from publishers (at the workflow's matching {@code rtmp_receive} step),
 * from other workflows (at the first step) and from its own steps' ffmpeg output (at the step after them).
 */
final class Workflow {

    private static final Logger log = LoggerFactory.getLogger(Workflow.class);
    private static final int MAILBOX = 2048;
    /** Where media from a publisher enters: at the first matching rtmp_receive step (or the first step without one). */
    static final int AT_RECEIVE = -1;

    enum State { PENDING, ACTIVE, FAILED, STOPPED }

    sealed interface Command permits Apply, Stop, StreamStart, Media, StreamEnd, Snapshot {
    }

    /** Run this definition (restarting the steps if it differs from the current one); completes with whether it did. */
    record Apply(WorkflowDefinition definition, String source, CompletableFuture<Boolean> done) implements Command {
    }

    /** Stop every step for good. */
    record Stop(CompletableFuture<Void> done) implements Command {
    }

    /** A stream begins at step {@code from} (or {@link #AT_RECEIVE}); {@code generation} -1 = from outside. */
    record StreamStart(String stream, String app, int from, int generation, String origin) implements Command {
    }

    record Media(String stream, int from, int generation, MediaPacket packet) implements Command {
    }

    record StreamEnd(String stream, int from, int generation) implements Command {
    }

    /** What the API shows. */
    record Snapshot(CompletableFuture<Map<String, Object>> answer) implements Command {
    }

    /** A stream the workflow knows: where it enters and where it came from. */
    private static final class StreamInfo {
        final String name;
        final String app;
        final int from;
        final boolean outside;
        final String origin;
        final long since;
        long packets;
        int entry;

        StreamInfo(String name, String app, int from, boolean outside, String origin, long since) {
            this.name = name;
            this.app = app;
            this.from = from;
            this.outside = outside;
            this.origin = origin;
            this.since = since;
        }
    }

    private final String name;
    private final MediaServices services;
    private final Mailbox<Command> mailbox;
    private volatile State state = State.PENDING;
    private volatile WorkflowDefinition definition;
    private String source = "";
    private String detail = "";
    private List<Step> steps = List.of();
    private List<String> stepStates = List.of();
    private int generation;
    private final Map<String, StreamInfo> streams = new LinkedHashMap<>();

    Workflow(String name, MediaServices services) {
        this.name = name;
        this.services = services;
        this.mailbox = new Mailbox<Command>("workflow-" + name, MAILBOX).start(this::handle);
    }

    String name() {
        return name;
    }

    State state() {
        return state;
    }

    WorkflowDefinition definition() {
        return definition;
    }

    CompletableFuture<Boolean> apply(WorkflowDefinition d, String source) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        mailbox.send(new Apply(d, source, f));
        return f;
    }

    CompletableFuture<Void> stop() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        try {
            mailbox.send(new Stop(f));
        } catch (IllegalStateException closed) {
            f.complete(null);
        }
        return f;
    }

    CompletableFuture<Map<String, Object>> snapshot() {
        CompletableFuture<Map<String, Object>> f = new CompletableFuture<>();
        try {
            mailbox.send(new Snapshot(f));
        } catch (IllegalStateException closed) {
            f.complete(Map.of("name", name, "state", "stopped"));
        }
        return f;
    }

    /** Hands a command over without blocking; false when the mailbox is full or closed. */
    boolean offer(Command c) {
        return mailbox.offer(c);
    }

    /** Hands a command over, waiting for room (for threads that may block, such as ffmpeg readers). */
    void post(Command c) {
        try {
            mailbox.send(c);
        } catch (IllegalStateException closed) {
            // the workflow stopped; what its steps still produce has nowhere to go
        }
    }

    private void handle(Command c) {
        switch (c) {
            case Apply a -> a.done().complete(apply(a));
            case Stop s -> {
                stopSteps();
                state = State.STOPPED;
                services.hub().publish(new WorkflowEvent(name, "stopped", source, ""));
                log.info("workflow={} event=stopped", name);
                for (StreamInfo info : streams.values()) {
                    services.hub().publish(new StreamEvent(name, info.name, "stopped", info.origin));
                }
                streams.clear();
                s.done().complete(null);
                Thread.ofVirtual().start(() -> mailbox.close(1_000));
            }
            case StreamStart s -> streamStart(s);
            case Media m -> media(m);
            case StreamEnd e -> streamEnd(e);
            case Snapshot s -> s.answer().complete(view());
        }
    }

    private boolean apply(Apply a) {
        if (state == State.STOPPED) {
            return false;
        }
        source = a.source();
        if (a.definition().equals(definition) && state != State.FAILED) {
            return false;
        }
        boolean restart = definition != null;
        stopSteps();
        definition = a.definition();
        generation++;
        state = State.PENDING;
        detail = "";
        List<StepDefinition> defs = definition.steps();
        List<Step> made = new ArrayList<>();
        List<String> states = new ArrayList<>();
        for (int i = 0; i < defs.size(); i++) {
            made.add(Steps.create(name, i, defs.get(i), services, output(i + 1, generation)));
            states.add("pending");
        }
        steps = made;
        stepStates = states;
        for (int i = 0; i < made.size(); i++) {
            try {
                made.get(i).start();
                states.set(i, "active");
            } catch (RuntimeException e) {
                states.set(i, "failed");
                fail("step " + (i + 1) + " (" + defs.get(i).type() + "): " + e.getMessage());
                return true;
            }
        }
        state = State.ACTIVE;
        log.info("workflow={} event={} source={} steps={}", name, restart ? "restarted" : "started", source, defs.size());
        services.hub().publish(new WorkflowEvent(name, "started", source, restart ? "restarted with a new definition" : ""));
        // Streams that were live before the (re)start go on through the new steps.
        for (StreamInfo info : streams.values()) {
            if (info.outside) {
                info.entry = entry(info);
                if (info.entry >= 0) {
                    forEach(info.entry, s -> s.streamStarted(info.name));
                }
            }
        }
        return true;
    }

    private void fail(String reason) {
        detail = reason;
        state = State.FAILED;
        log.warn("workflow={} event=failed reason={}", name, reason);
        stopSteps();
        services.hub().publish(new WorkflowEvent(name, "failed", source, reason));
    }

    private void stopSteps() {
        for (int i = steps.size() - 1; i >= 0; i--) {
            try {
                steps.get(i).stop();
            } catch (RuntimeException e) {
                log.warn("workflow={} step={} did not stop cleanly: {}", name, i + 1, e.toString());
            }
        }
        steps = List.of();
        List<String> states = new ArrayList<>();
        for (String s : stepStates) {
            states.add(s.equals("failed") ? "failed" : "stopped");
        }
        stepStates = states;
    }

    private Step.Output output(int next, int gen) {
        return new Step.Output() {
            @Override
            public void started(String stream, String from) {
                post(new StreamStart(stream, null, next, gen, from));
            }

            @Override
            public void media(String stream, MediaPacket packet) {
                post(new Media(stream, next, gen, packet));
            }

            @Override
            public void ended(String stream) {
                post(new StreamEnd(stream, next, gen));
            }
        };
    }

    private int entry(StreamInfo info) {
        if (info.from != AT_RECEIVE) {
            return info.from;
        }
        WorkflowDefinition d = definition;
        if (d == null) {
            return -1;
        }
        if (!d.hasReceive()) {
            return 0;
        }
        return d.receiveIndex(info.app, info.name);
    }

    private boolean stale(int gen) {
        return gen >= 0 && gen != generation;
    }

    private void streamStart(StreamStart s) {
        if (stale(s.generation())) {
            return;
        }
        StreamInfo old = streams.get(s.stream());
        if (old != null && old.outside && s.generation() < 0) {
            // A new publish of a name this workflow already has: the old one ends first.
            streamEnd(new StreamEnd(s.stream(), old.from, -1));
        }
        StreamInfo info = new StreamInfo(s.stream(), s.app(), s.from(), s.generation() < 0, s.origin(), services.clock().millis());
        info.entry = entry(info);
        streams.put(s.stream(), info);
        log.info("workflow={} event=stream_started stream={} from={}", name, s.stream(), s.origin());
        services.hub().publish(new StreamEvent(name, s.stream(), "started", s.origin()));
        if (state == State.ACTIVE && info.entry >= 0) {
            forEach(info.entry, step -> step.streamStarted(s.stream()));
        }
    }

    private void media(Media m) {
        if (stale(m.generation()) || state != State.ACTIVE) {
            return;
        }
        StreamInfo info = streams.get(m.stream());
        if (info == null) {
            // Media without a start (a forward that began before this workflow existed): start it here.
            streamStart(new StreamStart(m.stream(), null, m.from(), m.generation(), "unannounced"));
            info = streams.get(m.stream());
        }
        info.packets++;
        int from = m.generation() < 0 ? info.entry : m.from();
        if (from < 0) {
            return;
        }
        List<Step> s = steps;
        for (int i = from; i < s.size(); i++) {
            if (!s.get(i).media(m.stream(), m.packet())) {
                return;
            }
        }
    }

    private void streamEnd(StreamEnd e) {
        if (stale(e.generation())) {
            return;
        }
        StreamInfo info = streams.remove(e.stream());
        if (info == null) {
            return;
        }
        log.info("workflow={} event=stream_stopped stream={}", name, e.stream());
        services.hub().publish(new StreamEvent(name, e.stream(), "stopped", info.origin));
        int from = e.generation() < 0 ? info.entry : e.from();
        if (state == State.ACTIVE && from >= 0) {
            forEach(from, step -> step.streamEnded(e.stream()));
        }
    }

    private void forEach(int from, java.util.function.Consumer<Step> action) {
        List<Step> s = steps;
        for (int i = from; i < s.size(); i++) {
            try {
                action.accept(s.get(i));
            } catch (Step.Failure ex) {
                stepStates.set(i, "failed");
                fail("step " + (i + 1) + " (" + definition.steps().get(i).type() + "): " + ex.getMessage());
                return;
            }
        }
    }

    private Map<String, Object> view() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("name", name);
        v.put("state", state.name().toLowerCase(java.util.Locale.ROOT));
        v.put("source", source);
        v.put("detail", detail);
        List<Map<String, Object>> stepViews = new ArrayList<>();
        WorkflowDefinition d = definition;
        if (d != null) {
            for (int i = 0; i < d.steps().size(); i++) {
                StepDefinition sd = d.steps().get(i);
                Map<String, Object> sv = new LinkedHashMap<>();
                sv.put("type", sd.type());
                sv.put("params", sd.params());
                sv.put("state", i < stepStates.size() ? stepStates.get(i) : "pending");
                if (i < steps.size()) {
                    sv.putAll(steps.get(i).info());
                }
                stepViews.add(sv);
            }
        }
        v.put("steps", stepViews);
        List<Map<String, Object>> streamViews = new ArrayList<>();
        for (StreamInfo info : streams.values()) {
            Map<String, Object> sv = new LinkedHashMap<>();
            sv.put("name", info.name);
            sv.put("from", info.origin);
            sv.put("since", info.since);
            sv.put("packets", info.packets);
            streamViews.add(sv);
        }
        v.put("streams", streamViews);
        return v;
    }
}
