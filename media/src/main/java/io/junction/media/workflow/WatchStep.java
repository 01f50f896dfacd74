package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;
import io.junction.media.rtmp.RtmpGate;
import io.junction.media.rtmp.RtmpPlayer;
import io.junction.media.rtmp.StreamOutlet;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code rtmp_watch}: serves players on its app with the workflow's streams. Players may come before the stream
 * (they wait for it) and after (they get the metadata, sequence headers and the current group of pictures first).
 */
final class WatchStep implements Step {

    private final String workflow;
    private final StepDefinition.RtmpWatch definition;
    private final MediaServices services;
    private final ConcurrentHashMap<String, StreamOutlet> outlets = new ConcurrentHashMap<>();
    private volatile boolean stopped;

    WatchStep(String workflow, StepDefinition.RtmpWatch definition, MediaServices services) {
        this.workflow = workflow;
        this.definition = definition;
        this.services = services;
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
    public boolean media(String stream, MediaPacket packet) {
        if (definition.serves(stream)) {
            outlets.computeIfAbsent(stream, k -> new StreamOutlet(services.gopCacheBytes())).media(packet);
        }
        return true;
    }

    @Override
    public void streamEnded(String stream) {
        StreamOutlet o = outlets.get(stream);
        if (o != null) {
            o.ended();
            if (o.playerCount() == 0) {
                outlets.remove(stream, o);
            }
        }
    }

    @Override
    public void stop() {
        stopped = true;
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
