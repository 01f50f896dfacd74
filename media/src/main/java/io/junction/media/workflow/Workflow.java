package io.junction.media.workflow;

import io.junction.core.actor.Actor;
import io.junction.media.rtmp.MediaPacket;
import io.junction.media.workflow.WorkflowCommand.Apply;
import io.junction.media.workflow.WorkflowCommand.Media;
import io.junction.media.workflow.WorkflowCommand.RetryStep;
import io.junction.media.workflow.WorkflowCommand.Snapshot;
import io.junction.media.workflow.WorkflowCommand.Stop;
import io.junction.media.workflow.WorkflowCommand.StreamEnd;
import io.junction.media.workflow.WorkflowCommand.StreamStart;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
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
 * from other workflows (at the first step) and from its own steps' ffmpeg output (at the step after them). The
 * workflow runs on the {@link Actor} runtime; a step's retries are timers of that actor.
 */
final class Workflow {

    private static final Logger log = LoggerFactory.getLogger(Workflow.class);
    private static final int MAILBOX = 2048;
    /** Where media from a publisher enters: at the first matching rtmp_receive step (or the first step without one). */
    static final int AT_RECEIVE = -1;

    enum State { PENDING, ACTIVE, FAILED, STOPPED }

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
    private final Actor<WorkflowCommand> actor;
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
        this.actor = Actor.start("workflow-" + name, MAILBOX, services.clock(), this::handle);
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

    /** Runs {@code d}; completes with whether the steps (re)started. */
    CompletableFuture<Boolean> apply(WorkflowDefinition d, String source) {
        CompletableFuture<Boolean> reply = new CompletableFuture<>();
        actor.send(new Apply(d, source, reply));
        return reply;
    }

    /** Stops the workflow for good; completes once its steps are stopped (at once when it already was). */
    CompletableFuture<Void> stop() {
        CompletableFuture<Void> reply = new CompletableFuture<>();
        actor.send(new Stop(reply));
        return reply.exceptionally(closed -> null);
    }

    /** The workflow as the API shows it. */
    CompletableFuture<Map<String, Object>> snapshot() {
        CompletableFuture<Map<String, Object>> reply = new CompletableFuture<>();
        actor.send(new Snapshot(reply));
        return reply.exceptionally(closed -> Map.of("name", name, "state", "stopped"));
    }

    /** Hands a command over without blocking; false when the mailbox is full or the workflow stopped. */
    boolean offer(WorkflowCommand c) {
        return actor.tell(c);
    }

    /** Hands a command over, waiting for room (for threads that may block, such as ffmpeg readers). */
    void post(WorkflowCommand c) {
        // false only once the workflow stopped: what its steps still produce has nowhere to go
        actor.send(c);
    }

    private void handle(WorkflowCommand c) {
        switch (c) {
            case Apply a -> a.reply().complete(apply(a));
            case Stop s -> {
                stopSteps();
                state = State.STOPPED;
                services.hub().publish(new WorkflowEvent(name, "stopped", source, ""));
                log.info("workflow={} event=stopped", name);
                for (StreamInfo info : streams.values()) {
                    services.hub().publish(new StreamEvent(name, info.name, "stopped", info.origin));
                }
                streams.clear();
                s.reply().complete(null);
                // From its own handler, close only refuses new commands; what is queued is handled (and ignored).
                actor.close();
            }
            case StreamStart s -> streamStart(s);
            case Media m -> media(m);
            case StreamEnd e -> streamEnd(e);
            case Snapshot s -> s.reply().complete(view());
            case RetryStep r -> {
                if (r.generation() == generation && r.step() < steps.size()) {
                    steps.get(r.step()).retry();
                }
            }
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
            public void retryLater(Duration delay) {
                actor.scheduleAfter(delay, new StepTimer(next - 1), new RetryStep(gen, next - 1));
            }

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

    /** The tag of a step's retry timer: a newer one replaces an older one. */
    private record StepTimer(int step) {
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
            if (m.generation() >= 0) {
                // A step's output for a stream that has ended (what a transcoder was still encoding when its source
                // stopped): dropped. A stream is started by its source, never again by its steps' trailing output.
                return;
            }
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
