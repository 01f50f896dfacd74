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
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * One running workflow: an actor that owns its steps and passes media from each step to the next. Steps start
 * pending and become active; when one fails, the workflow goes to the failed state and stops all its steps.
 *
 * <p>Applying a different definition keeps running every step whose definition is unchanged and whose input is the
 * same (the same {@code rtmp_receive}, {@code ffmpeg_pull} and {@code ffmpeg_transcode} steps before it, in order), as
 * mmids does: its ffmpeg children and players go on. The other steps are stopped and new ones started; a new step
 * gets each live stream that reaches it with what it needs to decode it first (the metadata, the sequence headers and
 * the group of pictures since the last key frame, kept per stream for what enters the workflow and for what each
 * step passes on), then live media.
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
        /** For a stream from outside: {@link #AT_RECEIVE}, or the step it enters at. */
        final int from;
        /** The step that makes the stream (a pull), entering after it; null for a stream from outside. */
        final Slot producer;
        final String origin;
        final long since;
        /** What entered from outside, for steps that start later at the entry. */
        final StreamCache in;
        long packets;
        int entry;

        StreamInfo(String name, String app, int from, Slot producer, String origin, long since, int gopCacheBytes) {
            this.name = name;
            this.app = app;
            this.from = from;
            this.producer = producer;
            this.origin = origin;
            this.since = since;
            this.in = new StreamCache(gopCacheBytes);
        }

        boolean outside() {
            return producer == null;
        }
    }

    /**
     * One running step: its definition, the steps before it that decide its input, where it is in the chain now (an
     * update may move it) and, per stream, what it passed on or produced — what a step started after it needs first.
     */
    private static final class Slot {
        final int id;
        final StepDefinition definition;
        final List<StepDefinition> upstream;
        final Step step;
        int index;
        final Map<String, StreamCache> out = new HashMap<>();

        Slot(int id, StepDefinition definition, List<StepDefinition> upstream, Step step, int index) {
            this.id = id;
            this.definition = definition;
            this.upstream = upstream;
            this.step = step;
            this.index = index;
        }
    }

    private final String name;
    private final MediaServices services;
    private final Actor<WorkflowCommand> actor;
    private volatile State state = State.PENDING;
    private volatile WorkflowDefinition definition;
    private String source = "";
    private String detail = "";
    private List<Slot> slots = List.of();
    private List<String> stepStates = List.of();
    /** The id of the next step instance; what a step produces names its instance, so a replaced step's is dropped. */
    private int nextSlotId;
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

    /** Runs {@code d}; completes with whether anything changed. */
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
                Slot slot = slot(r.step());
                if (slot != null) {
                    slot.step.retry();
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
        // Which running steps each live stream reaches now (a failed workflow has none running).
        Map<StreamInfo, Set<Slot>> reached = new HashMap<>();
        for (StreamInfo info : streams.values()) {
            Set<Slot> had = new HashSet<>();
            if (state == State.ACTIVE && info.entry >= 0) {
                had.addAll(slots.subList(Math.min(info.entry, slots.size()), slots.size()));
            }
            reached.put(info, had);
        }
        definition = a.definition();
        state = State.PENDING;
        detail = "";
        List<StepDefinition> defs = definition.steps();
        List<Slot> old = new ArrayList<>(slots);
        List<Slot> next = new ArrayList<>();
        List<Slot> made = new ArrayList<>();
        List<String> states = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        List<StepDefinition> upstream = new ArrayList<>();
        for (int i = 0; i < defs.size(); i++) {
            StepDefinition sd = defs.get(i);
            List<StepDefinition> up = List.copyOf(upstream);
            Slot same = null;
            for (Slot s : old) {
                if (s.definition.equals(sd) && s.upstream.equals(up)) {
                    same = s;
                    break;
                }
            }
            if (same != null) {
                old.remove(same);
                same.index = i;
                next.add(same);
                states.add("active");
                kept.add(i + 1);
            } else {
                int id = nextSlotId++;
                Slot s = new Slot(id, sd, up, Steps.create(name, i, sd, services, output(id)), i);
                next.add(s);
                made.add(s);
                states.add("pending");
            }
            if (sd instanceof StepDefinition.RtmpReceive || sd instanceof StepDefinition.FfmpegPull
                    || sd instanceof StepDefinition.FfmpegTranscode) {
                upstream.add(sd);
            }
        }
        // What is gone stops first (last first), so that a new step can take its app or its HLS folder.
        for (int i = old.size() - 1; i >= 0; i--) {
            stop(old.get(i));
        }
        slots = next;
        stepStates = states;
        for (Slot s : made) {
            try {
                s.step.start();
                states.set(s.index, "active");
            } catch (RuntimeException e) {
                states.set(s.index, "failed");
                fail("step " + (s.index + 1) + " (" + s.definition.type() + "): " + e.getMessage());
                return true;
            }
        }
        state = State.ACTIVE;
        String how = !restart ? "" : kept.isEmpty() ? "restarted with a new definition"
                : "updated with a new definition; step" + (kept.size() == 1 ? " " : "s ")
                + kept.stream().map(String::valueOf).collect(Collectors.joining(", ")) + " kept running";
        log.info("workflow={} event={} source={} steps={} kept={}", name, restart ? "restarted" : "started", source, defs.size(), kept);
        services.hub().publish(new WorkflowEvent(name, "started", source, how));
        // Streams that were live go on: steps they no longer reach end them; steps they now reach start them.
        for (Iterator<StreamInfo> it = streams.values().iterator(); it.hasNext(); ) {
            StreamInfo info = it.next();
            Set<Slot> had = reached.getOrDefault(info, Set.of());
            if (!info.outside() && !next.contains(info.producer)) {
                it.remove();
                log.info("workflow={} event=stream_stopped stream={} reason=\"its step was removed\"", name, info.name);
                services.hub().publish(new StreamEvent(name, info.name, "stopped", info.origin));
                info.entry = -1;
            } else {
                info.entry = entry(info);
            }
            if (!reconcile(info, had)) {
                return true;
            }
        }
        return true;
    }

    /**
     * After an update: ends {@code info} in the kept steps it reached and no longer does, and starts it in the steps
     * it now reaches and did not, each fed first what the step before it passed on (or what entered, at the entry).
     * Returns false when a step failed (the workflow has failed then).
     */
    private boolean reconcile(StreamInfo info, Set<Slot> had) {
        List<Slot> s = slots;
        int at = -1;
        try {
            for (Slot slot : s) {
                at = slot.index;
                if (had.contains(slot) && (info.entry < 0 || slot.index < info.entry)) {
                    slot.out.remove(info.name);
                    slot.step.streamEnded(info.name);
                }
            }
            if (info.entry < 0) {
                return true;
            }
            for (int k = info.entry; k < s.size(); k++) {
                Slot slot = s.get(k);
                at = k;
                if (had.contains(slot)) {
                    continue;
                }
                StreamCache input = k == info.entry && info.outside() ? info.in : s.get(k - 1).out.get(info.name);
                List<MediaPacket> first = input == null ? List.of() : input.replay();
                slot.out.remove(info.name);
                slot.step.streamStarted(info.name);
                for (MediaPacket p : first) {
                    if (slot.step.media(info.name, p)) {
                        out(slot, info.name).remember(p);
                    }
                }
            }
        } catch (Step.Failure ex) {
            stepStates.set(at, "failed");
            fail("step " + (at + 1) + " (" + definition.steps().get(at).type() + "): " + ex.getMessage());
            return false;
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

    private void stop(Slot s) {
        try {
            s.step.stop();
        } catch (RuntimeException e) {
            log.warn("workflow={} step={} did not stop cleanly: {}", name, s.index + 1, e.toString());
        }
    }

    private void stopSteps() {
        for (int i = slots.size() - 1; i >= 0; i--) {
            stop(slots.get(i));
        }
        slots = List.of();
        List<String> states = new ArrayList<>();
        for (String s : stepStates) {
            states.add(s.equals("failed") ? "failed" : "stopped");
        }
        stepStates = states;
    }

    /**
     * How the step instance {@code id} hands on what it produces: its commands name the instance, so they enter after
     * wherever the step is now, and are dropped once it was replaced.
     */
    private Step.Output output(int id) {
        return new Step.Output() {
            @Override
            public void retryLater(Duration delay) {
                actor.scheduleAfter(delay, new StepTimer(id), new RetryStep(id));
            }

            @Override
            public void started(String stream, String from) {
                post(new StreamStart(stream, null, 0, id, from));
            }

            @Override
            public void media(String stream, MediaPacket packet) {
                post(new Media(stream, 0, id, packet));
            }

            @Override
            public void ended(String stream) {
                post(new StreamEnd(stream, 0, id));
            }
        };
    }

    /** The tag of a step instance's retry timer: a newer one replaces an older one. */
    private record StepTimer(int step) {
    }

    /** The running step instance {@code id}, or null once it was stopped or replaced. */
    private Slot slot(int id) {
        for (Slot s : slots) {
            if (s.id == id) {
                return s;
            }
        }
        return null;
    }

    private StreamCache out(Slot slot, String stream) {
        StreamCache c = slot.out.get(stream);
        if (c == null) {
            c = new StreamCache(services.gopCacheBytes());
            slot.out.put(stream, c);
        }
        return c;
    }

    private int entry(StreamInfo info) {
        if (!info.outside()) {
            return slots.contains(info.producer) ? info.producer.index + 1 : -1;
        }
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

    /** The step instance a command of a step names, or null when it comes from outside or its step is gone. */
    private Slot producer(int generation) {
        return generation < 0 ? null : slot(generation);
    }

    private void streamStart(StreamStart s) {
        Slot producer = producer(s.generation());
        if (s.generation() >= 0 && producer == null) {
            return;
        }
        StreamInfo old = streams.get(s.stream());
        if (old != null && old.outside() && producer == null) {
            // A new publish of a name this workflow already has: the old one ends first.
            streamEnd(new StreamEnd(s.stream(), old.from, -1));
        }
        StreamInfo info = new StreamInfo(s.stream(), s.app(), s.from(), producer, s.origin(), services.clock().millis(),
                services.gopCacheBytes());
        info.entry = entry(info);
        streams.put(s.stream(), info);
        forgetCached(s.stream());
        log.info("workflow={} event=stream_started stream={} from={}", name, s.stream(), s.origin());
        services.hub().publish(new StreamEvent(name, s.stream(), "started", s.origin()));
        if (state == State.ACTIVE && info.entry >= 0) {
            forEach(info.entry, step -> step.streamStarted(s.stream()));
        }
    }

    /** What the steps passed on of a stream that starts or ends is no use to a step that starts later. */
    private void forgetCached(String stream) {
        for (Slot slot : slots) {
            slot.out.remove(stream);
        }
    }

    private void media(Media m) {
        StreamInfo info = streams.get(m.stream());
        MediaPacket p = m.packet();
        if (m.generation() < 0) {
            if (info == null) {
                if (state != State.ACTIVE) {
                    return;
                }
                // Media without a start (a forward that began before this workflow existed): start it here.
                streamStart(new StreamStart(m.stream(), null, m.from(), -1, "unannounced"));
                info = streams.get(m.stream());
            }
            info.packets++;
            if (p.kind() == MediaPacket.Kind.METADATA) {
                p = enter(p, m.stream());
                if (p == null) {
                    return;
                }
            }
            // Kept even before the workflow runs its steps: they start with it.
            info.in.remember(p);
            if (state == State.ACTIVE && info.entry >= 0) {
                run(info.entry, m.stream(), p);
            }
            return;
        }
        Slot producer = slot(m.generation());
        if (producer == null || state != State.ACTIVE) {
            return;
        }
        if (info == null) {
            if (!(producer.definition instanceof StepDefinition.FfmpegPull)) {
                // A step's output for a stream that has ended (what a transcoder was still encoding when its source
                // stopped): dropped. A stream is started by its source, never again by its steps' trailing output.
                return;
            }
            streamStart(new StreamStart(m.stream(), null, 0, m.generation(), "unannounced"));
            info = streams.get(m.stream());
        }
        info.packets++;
        if (p.kind() == MediaPacket.Kind.METADATA && producer.definition instanceof StepDefinition.FfmpegPull) {
            // A pull brings a stream from outside the workflow (a transcoder's output is this workflow's own).
            p = enter(p, m.stream());
            if (p == null) {
                return;
            }
        }
        out(producer, m.stream()).remember(p);
        run(producer.index + 1, m.stream(), p);
    }

    /** Passes a packet along the steps from {@code from}, each keeping what it passes on for steps started later. */
    private void run(int from, String stream, MediaPacket p) {
        List<Slot> s = slots;
        for (int i = from; i < s.size(); i++) {
            Slot slot = s.get(i);
            if (!slot.step.media(stream, p)) {
                return;
            }
            out(slot, stream).remember(p);
        }
    }

    /**
     * Where a stream enters (from a publisher, a forward or a pull, not back from this workflow's own transcoder), its
     * metadata records this workflow ({@link LoopGuard}) and shows whether the stream has been here before. Returns
     * the metadata to go on with (kept for late steps too), or null when the stream came back: the workflow fails
     * then, once (a failed workflow runs no steps and is not failed again), and the packet is dropped.
     */
    private MediaPacket enter(MediaPacket metadata, String stream) {
        return switch (LoopGuard.enter(metadata, services.server(), name, stream)) {
            case LoopGuard.Entry.Pass pass -> pass.packet();
            case LoopGuard.Entry.Loop loop -> {
                if (state == State.ACTIVE) {
                    fail(loop.reason());
                }
                yield null;
            }
        };
    }

    private void streamEnd(StreamEnd e) {
        if (e.generation() >= 0 && slot(e.generation()) == null) {
            return;
        }
        StreamInfo info = streams.remove(e.stream());
        if (info == null) {
            return;
        }
        log.info("workflow={} event=stream_stopped stream={}", name, e.stream());
        services.hub().publish(new StreamEvent(name, e.stream(), "stopped", info.origin));
        forgetCached(e.stream());
        int from = info.entry;
        if (state == State.ACTIVE && from >= 0) {
            forEach(from, step -> step.streamEnded(e.stream()));
        }
    }

    private void forEach(int from, java.util.function.Consumer<Step> action) {
        List<Slot> s = slots;
        for (int i = from; i < s.size(); i++) {
            try {
                action.accept(s.get(i).step);
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
                if (i < slots.size()) {
                    sv.putAll(slots.get(i).step.info());
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
