package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code forward_to_workflow}: hands each stream to another workflow, which receives it at its first step. The target
 * is looked up for every stream event, so it may come and go. When the target's mailbox is full, frames are skipped
 * to the next key frame and counted, never queued without bound.
 */
final class ForwardStep implements Step {

    private final String workflow;
    private final StepDefinition.ForwardToWorkflow definition;
    private final MediaServices services;
    /** Streams whose next frames are skipped until a key frame, because the target could not take one. */
    private final Map<String, Boolean> skipping = new HashMap<>();
    private long skipped;

    ForwardStep(String workflow, StepDefinition.ForwardToWorkflow definition, MediaServices services) {
        this.workflow = workflow;
        this.definition = definition;
        this.services = services;
    }

    private Optional<Workflow> target() {
        return services.workflows().apply(definition.workflow());
    }

    @Override
    public void start() {
    }

    @Override
    public void streamStarted(String stream) {
        target().ifPresent(t -> send(t, new Workflow.StreamStart(stream, null, 0, -1, "workflow " + workflow)));
    }

    @Override
    public boolean media(String stream, MediaPacket p) {
        Optional<Workflow> t = target();
        if (t.isEmpty()) {
            return true;
        }
        boolean skip = skipping.getOrDefault(stream, false);
        if (skip && !p.header() && !p.keyframe()) {
            skipped++;
            return true;
        }
        if (t.get().offer(new Workflow.Media(stream, 0, -1, p))) {
            if (skip && p.keyframe()) {
                skipping.remove(stream);
            }
        } else {
            skipping.put(stream, true);
            skipped++;
        }
        return true;
    }

    @Override
    public void streamEnded(String stream) {
        skipping.remove(stream);
        target().ifPresent(t -> send(t, new Workflow.StreamEnd(stream, 0, -1)));
    }

    /** Never blocks this workflow on the target's mailbox (two workflows forwarding to each other would deadlock). */
    private static void send(Workflow target, Workflow.Command c) {
        if (!target.offer(c)) {
            Thread.ofVirtual().start(() -> target.post(c));
        }
    }

    @Override
    public void stop() {
        skipping.clear();
    }

    @Override
    public Map<String, Object> info() {
        return Map.of("skipped", skipped);
    }
}
