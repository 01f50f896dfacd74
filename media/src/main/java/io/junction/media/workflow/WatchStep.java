package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;
import io.junction.media.rtmp.RtmpGate;
import io.junction.media.rtmp.RtmpPlayer;
import io.junction.media.rtmp.StreamOutlet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code rtmp_watch}: serves players on its app with the workflow's streams. Players may come before the stream
 * (they wait for it) and after (they get the metadata, sequence headers and the current group of pictures first).
 * When a stream's publisher stops, its players wait for the publisher grace period, as nginx-rtmp's and mmids' do: a
 * new publish of the name within it goes on to them; after it they are told the stream stopped.
 */
final class WatchStep implements Step {

    private static final Logger log = LoggerFactory.getLogger(WatchStep.class);

    private final String workflow;
    private final StepDefinition.RtmpWatch definition;
    private final MediaServices services;
    private final Step.Output output;
    private final ConcurrentHashMap<String, StreamOutlet> outlets = new ConcurrentHashMap<>();
    /** Streams whose publisher stopped, with when their players stop waiting for another (on the workflow's thread). */
    private final Map<String, Instant> waiting = new HashMap<>();
    private volatile boolean stopped;

    WatchStep(String workflow, StepDefinition.RtmpWatch definition, MediaServices services, Step.Output output) {
        this.workflow = workflow;
        this.definition = definition;
        this.services = services;
        this.output = output;
    }

    String app() {
        return definition.app();
    }

    boolean serves(String app, String key) {
        return !stopped && definition.app().equals(app) && definition.serves(key);
    }

    /** Called on a network thread when a client plays one of this step's streams. */
    void play(String key, RtmpPlayer player) throws RtmpGate.Refused {
        if (stopped) {
            throw new RtmpGate.Refused("workflow '" + workflow + "' stopped serving " + definition.app());
        }
        outlets.computeIfAbsent(key, k -> new StreamOutlet(services.gopCacheBytes())).add(player);
    }

    @Override
    public void start() {
        services.watchers().add(this);
    }

    @Override
    public void streamStarted(String stream) {
        resumed(stream);
    }

    /** A stream whose players were waiting is published again: they get it (the outlet shifts its timestamps). */
    private void resumed(String stream) {
        if (waiting.remove(stream) != null) {
            StreamOutlet o = outlets.get(stream);
            log.info("workflow={} stream={} event=publisher_back players={}", workflow, stream, o == null ? 0 : o.playerCount());
        }
    }

    @Override
    public boolean media(String stream, MediaPacket packet) {
        if (!waiting.isEmpty()) {
            // Media without a start first (a forward that began before this workflow existed) resumes it as well.
            resumed(stream);
        }
        if (definition.serves(stream)) {
            outlets.computeIfAbsent(stream, k -> new StreamOutlet(services.gopCacheBytes())).media(packet);
        }
        return true;
    }

    @Override
    public void streamEnded(String stream) {
        StreamOutlet o = outlets.get(stream);
        if (o == null) {
            return;
        }
        Duration grace = services.publisherGrace();
        if (grace.isZero() || o.playerCount() == 0) {
            end(stream, o);
            return;
        }
        o.interrupted();
        waiting.put(stream, services.clock().instant().plus(grace));
        log.info("workflow={} stream={} event=players_wait players={} grace={}", workflow, stream, o.playerCount(), grace);
        scheduleNext();
    }

    private void end(String stream, StreamOutlet o) {
        o.ended();
        if (o.playerCount() == 0) {
            outlets.remove(stream, o);
        }
    }

    /** The grace period of some streams is over: their players are told the stream stopped. */
    @Override
    public void retry() {
        Instant now = services.clock().instant();
        for (Iterator<Map.Entry<String, Instant>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Instant> e = it.next();
            if (!e.getValue().isAfter(now)) {
                it.remove();
                StreamOutlet o = outlets.get(e.getKey());
                if (o != null) {
                    log.info("workflow={} stream={} event=players_told_stopped players={} (no publisher came back within {})",
                            workflow, e.getKey(), o.playerCount(), services.publisherGrace());
                    end(e.getKey(), o);
                }
            }
        }
        scheduleNext();
    }

    /** One timer of the workflow serves every waiting stream: it is set for the first deadline. */
    private void scheduleNext() {
        Instant first = null;
        for (Instant deadline : waiting.values()) {
            if (first == null || deadline.isBefore(first)) {
                first = deadline;
            }
        }
        if (first != null) {
            Duration in = Duration.between(services.clock().instant(), first);
            output.retryLater(in.isNegative() ? Duration.ZERO : in);
        }
    }

    @Override
    public void stop() {
        stopped = true;
        waiting.clear();
        services.watchers().remove(this);
        for (StreamOutlet o : outlets.values()) {
            o.closePlayers();
        }
        outlets.clear();
    }

    @Override
    public Map<String, Object> info() {
        Map<String, Object> players = new LinkedHashMap<>();
        for (Map.Entry<String, StreamOutlet> e : outlets.entrySet()) {
            players.put(e.getKey(), e.getValue().playerCount());
        }
        return Map.of("players", players);
    }
}
