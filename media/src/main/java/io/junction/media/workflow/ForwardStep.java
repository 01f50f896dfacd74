package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code forward_to_workflow}: hands each stream to another workflow, which receives it at its first step. The target
 * is looked up for every stream event, so it may come and go. This workflow never waits for the target's mailbox (two
 * workflows forwarding to each other would deadlock): when it is full, frames are skipped to the next key frame and
 * counted, and a stream's start or end waits in order, per stream, for a retry timer of this workflow. A target that
 * appears (or is replaced) while a stream is live is told the stream started and gets its metadata, sequence headers
 * and group of pictures from the last key frame before live media, as a step that starts mid-stream does.
 */
final class ForwardStep implements Step {

    /** How long a start or end the target could not take waits before it is offered again. */
    static final Duration RETRY = Duration.ofMillis(20);

    private final String workflow;
    private final StepDefinition.ForwardToWorkflow definition;
    private final MediaServices services;
    private final Step.Output output;
    /** Streams whose next frames are skipped until a key frame, because the target could not take one. */
    private final Map<String, Boolean> skipping = new HashMap<>();
    /**
     * Per stream, the starts and ends the target has not taken yet, in order (at most an end and a start: a start
     * and the end after it, both untaken, cancel out). Frames of such a stream are skipped until they are taken.
     */
    private final Map<String, ArrayDeque<WorkflowCommand>> waiting = new LinkedHashMap<>();
    private long skipped;
    /** Per stream, the target instance that was told the stream started. */
    private final Map<String, Workflow> told = new HashMap<>();
    /** Per stream, what a target that appears mid-stream needs first. */
    private final Map<String, StreamCache> caches = new HashMap<>();

    ForwardStep(String workflow, StepDefinition.ForwardToWorkflow definition, MediaServices services, Step.Output output) {
        this.workflow = workflow;
        this.definition = definition;
        this.services = services;
        this.output = output;
    }

    private Optional<Workflow> target() {
        return services.workflows().apply(definition.workflow());
    }

    @Override
    public void start() {
    }

    private WorkflowCommand.StreamStart start(String stream) {
        return new WorkflowCommand.StreamStart(stream, null, 0, -1, "workflow " + workflow);
    }

    @Override
    public void streamStarted(String stream) {
        caches.put(stream, new StreamCache(services.gopCacheBytes()));
        told.remove(stream);
        control(stream, start(stream));
    }

    @Override
    public boolean media(String stream, MediaPacket p) {
        StreamCache cache = caches.get(stream);
        if (cache == null) {
            cache = new StreamCache(services.gopCacheBytes());
            caches.put(stream, cache);
        }
        forward(stream, p, cache);
        cache.remember(p);
        return true;
    }

    private void forward(String stream, MediaPacket p, StreamCache cache) {
        if (waiting.containsKey(stream)) {
            skipping.put(stream, true);
            skipped++;
            return;
        }
        Optional<Workflow> t = target();
        if (t.isEmpty()) {
            return;
        }
        if (told.get(stream) != t.get()) {
            // The target came (or came back) while the stream is live: it starts it with what it needs to decode it.
            if (!t.get().offer(start(stream))) {
                skipping.put(stream, true);
                skipped++;
                return;
            }
            told.put(stream, t.get());
            for (MediaPacket q : cache.replay()) {
                if (!t.get().offer(new WorkflowCommand.Media(stream, 0, -1, q))) {
                    skipping.put(stream, true);
                }
            }
        }
        boolean skip = skipping.getOrDefault(stream, false);
        if (skip && !p.header() && !p.keyframe()) {
            skipped++;
            return;
        }
        if (t.get().offer(new WorkflowCommand.Media(stream, 0, -1, p))) {
            if (skip && p.keyframe()) {
                skipping.remove(stream);
            }
        } else {
            skipping.put(stream, true);
            skipped++;
        }
    }

    @Override
    public void streamEnded(String stream) {
        skipping.remove(stream);
        caches.remove(stream);
        control(stream, new WorkflowCommand.StreamEnd(stream, 0, -1));
    }

    /** Hands a start or end to the target now, or queues it behind the ones of its stream still waiting. */
    private void control(String stream, WorkflowCommand c) {
        ArrayDeque<WorkflowCommand> q = waiting.get(stream);
        if (q == null) {
            Optional<Workflow> t = target();
            if (t.isEmpty() || t.get().offer(c)) {
                delivered(stream, c, t);
                return;
            }
            q = new ArrayDeque<>(2);
            waiting.put(stream, q);
            output.retryLater(RETRY);
        } else if (c instanceof WorkflowCommand.StreamEnd && q.peekLast() instanceof WorkflowCommand.StreamStart) {
            // The target never saw this start, so it need not see the end either.
            q.pollLast();
            if (q.isEmpty()) {
                waiting.remove(stream);
            }
            return;
        }
        q.addLast(c);
    }

    @Override
    public void retry() {
        Optional<Workflow> t = target();
        for (Iterator<Map.Entry<String, ArrayDeque<WorkflowCommand>>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, ArrayDeque<WorkflowCommand>> e = it.next();
            ArrayDeque<WorkflowCommand> q = e.getValue();
            while (!q.isEmpty() && (t.isEmpty() || t.get().offer(q.peekFirst()))) {
                // With no target any more, what waits has nowhere to go.
                delivered(e.getKey(), q.pollFirst(), t);
            }
            if (q.isEmpty()) {
                it.remove();
            }
        }
        if (!waiting.isEmpty()) {
            output.retryLater(RETRY);
        }
    }

    /** Notes which target instance knows a stream started (none when there was no target to tell). */
    private void delivered(String stream, WorkflowCommand c, Optional<Workflow> t) {
        if (c instanceof WorkflowCommand.StreamStart && t.isPresent()) {
            told.put(stream, t.get());
        } else {
            told.remove(stream);
        }
    }

    @Override
    public void stop() {
        skipping.clear();
        waiting.clear();
        told.clear();
        caches.clear();
    }

    @Override
    public Map<String, Object> info() {
        return Map.of("skipped", skipped);
    }
}
