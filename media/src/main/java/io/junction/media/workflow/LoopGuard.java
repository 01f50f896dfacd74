package io.junction.media.workflow;

import io.junction.media.rtmp.Amf0;
import io.junction.media.rtmp.MediaPacket;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stops the loops that only form at run time: a push to this server's own RTMP port, a pull of one of its own
 * players' streams, stream names that lead back. Each workflow a stream enters adds itself to a list carried in the
 * stream's metadata (the {@code onMetaData} field {@value #FIELD}, {@code "<server>/<workflow>,..."}), which ffmpeg
 * copies through pushes, pulls and transcodes like any other metadata text; a workflow that finds itself in the list
 * already, or a list of {@value #MAX_HOPS}, is in a loop. The server part tells this server's workflows from another
 * server's of the same name.
 */
final class LoopGuard {

    /** The metadata field that carries the workflows a stream passed through. */
    static final String FIELD = "junction_via";
    /** More workflows than this in one chain is taken for a loop too (across servers, or growing stream names). */
    static final int MAX_HOPS = 32;

    /** What a stream's metadata packet becomes as it enters a workflow. */
    sealed interface Entry {
        /** Go on with this packet (the same one when there was nothing to add to). */
        record Pass(MediaPacket packet) implements Entry {
        }

        /** The stream came back: {@code reason} says through which workflows. */
        record Loop(String reason) implements Entry {
        }
    }

    private LoopGuard() {
    }

    /** {@code metadata} entering workflow {@code workflow} of server {@code server} as stream {@code stream}. */
    static Entry enter(MediaPacket metadata, String server, String workflow, String stream) {
        List<Object> values;
        try {
            values = new ArrayList<>(Amf0.decodeAll(metadata.data()));
        } catch (Amf0.FormatException e) {
            return new Entry.Pass(metadata);
        }
        int at = !values.isEmpty() && "@setDataFrame".equals(values.getFirst()) ? 1 : 0;
        if (values.size() < at + 2 || !"onMetaData".equals(values.get(at)) || !(values.get(at + 1) instanceof Map<?, ?> meta)) {
            return new Entry.Pass(metadata);
        }
        String self = server + "/" + workflow;
        List<String> via = new ArrayList<>();
        if (meta.get(FIELD) instanceof String text && !text.isEmpty()) {
            via.addAll(Arrays.asList(text.split(",")));
        }
        if (via.contains(self)) {
            return new Entry.Loop("stream '" + stream + "' came back to workflow '" + workflow + "' after passing through "
                    + describe(via, server) + ": a push, pull or forward leads back here, so the workflow stopped"
                    + " rather than hand the stream round forever");
        }
        if (via.size() >= MAX_HOPS) {
            return new Entry.Loop("stream '" + stream + "' reached workflow '" + workflow + "' after passing through "
                    + via.size() + " workflows (" + describe(via, server) + "): taken for a loop, so the workflow stopped");
        }
        via.add(self);
        Map<String, Object> next = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : meta.entrySet()) {
            next.put(String.valueOf(e.getKey()), e.getValue());
        }
        next.put(FIELD, String.join(",", via));
        try {
            byte[] body = new Amf0.Writer().value("onMetaData").ecmaArray(next).toBytes();
            return new Entry.Pass(new MediaPacket(MediaPacket.Kind.METADATA, metadata.timestamp(), body));
        } catch (IllegalArgumentException unencodable) {
            // A value this writer has no encoding for: the metadata goes on as it came, untracked.
            return new Entry.Pass(metadata);
        }
    }

    /** This server's workflows by name, others' with their server. */
    private static String describe(List<String> via, String server) {
        List<String> names = new ArrayList<>();
        for (String v : via) {
            names.add(v.startsWith(server + "/") ? v.substring(server.length() + 1) : v);
        }
        return String.join(", ", names);
    }
}
