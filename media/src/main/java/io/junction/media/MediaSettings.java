package io.junction.media;

import io.junction.core.config.ConfigException;
import io.junction.core.config.JunctionConfig;
import io.junction.core.config.Section;
import io.junction.core.telemetry.TimeSpans;
import io.junction.media.hls.HlsSettings;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Live video: the RTMP endpoint ({@code [rtmp]}), ffmpeg ({@code [ffmpeg]}), static workflows ({@code [[workflows]]}),
 * reactors ({@code [[reactors]]}) and how HLS is served ({@code [hls]}: CORS and signed URLs).
 *
 * <p>Workflows stay generic here: a step is its type and its parameters as read. Step types and parameters are
 * checked by {@link io.junction.media.workflow.Definitions#fromConfig} (the same check the API and reactors go
 * through), which reports a bad one with the {@code where} kept below ({@code file:line}), so a config error still
 * names the file, the line, the workflow, the step and the parameter.
 *
 * @param enabled whether live video runs at all: only when the file has an {@code [rtmp]} section, workflows or
 *                reactors, so a server (or a test) that does not use video opens no RTMP port
 */
public record MediaSettings(boolean enabled, Rtmp rtmp, Ffmpeg ffmpeg, List<WorkflowSpec> workflows, List<ReactorSpec> reactors,
                            HlsSettings hls) {

    public MediaSettings {
        workflows = List.copyOf(workflows);
        reactors = List.copyOf(reactors);
    }

    /**
     * The RTMP endpoint.
     *
     * @param maxMessageBytes  the largest RTMP message a peer may send (a larger one closes its connection)
     * @param maxChunkSize     the largest chunk size a peer may announce
     * @param chunkSize        the chunk size the server sends with
     * @param windowAckSize    the acknowledgement window the server announces
     * @param gopCacheBytes    how much of the current group of pictures is kept for late joiners
     * @param playerBufferBytes how many bytes may wait for one slow player before frames are skipped for it
     * @param publisherGrace   how long players stay attached to a stream whose publisher stopped, waiting for it to
     *                         be published again (0: they are told at once that it stopped)
     */
    public record Rtmp(String host, int port, Optional<JunctionConfig.Tls> tls, int maxMessageBytes, int maxChunkSize,
                       int chunkSize, int windowAckSize, int gopCacheBytes, int playerBufferBytes, Duration publisherGrace) {
        /** The longest {@code publisher_grace}: players hold a connection (and a slot) that long for nothing. */
        public static final Duration MAX_PUBLISHER_GRACE = Duration.ofMinutes(10);

        public static Rtmp defaults() {
            return new Rtmp("0.0.0.0", 1935, Optional.empty(), 8 * 1024 * 1024, 1024 * 1024, 4096, 2_500_000,
                    4 * 1024 * 1024, 1024 * 1024, Duration.ofSeconds(10));
        }
    }

    /** The ffmpeg endpoint: which program, and the back-off between restarts of a process that died. */
    public record Ffmpeg(String path, long restartMinMillis, long restartMaxMillis) {
        public static Ffmpeg defaults() {
            return new Ffmpeg("ffmpeg", 1_000, 30_000);
        }
    }

    /** A workflow as written in the file; {@code where} is {@code file:line} for errors found later. */
    public record WorkflowSpec(String name, List<StepSpec> steps, String where) {
        public WorkflowSpec {
            steps = List.copyOf(steps);
        }
    }

    /**
     * One step as written: its type and its other keys, whose values are {@code String}, {@code Long},
     * {@code Boolean} or {@code List<String>}.
     */
    public record StepSpec(String type, Map<String, Object> params, String where) {
        public StepSpec {
            params = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
        }
    }

    /**
     * A reactor: for a publish on {@code app} whose stream key matches {@code streamKey} ({@code *} for any) and that
     * no static workflow claims, ask {@code url} which workflows the stream should have.
     *
     * @param updateIntervalSeconds how often the answer is asked again while the stream lives; 0 = never
     */
    public record ReactorSpec(String name, String url, long updateIntervalSeconds, String app, String streamKey,
                              long timeoutMillis, String where) {
    }

    public static MediaSettings defaults() {
        return new MediaSettings(false, Rtmp.defaults(), Ffmpeg.defaults(), List.of(), List.of(), HlsSettings.defaults());
    }

    /**
     * Reads its sections ({@code [rtmp]}, {@code [ffmpeg]}, {@code [[workflows]]}, {@code [[reactors]]}, {@code [hls]}) from the root
     * table; absent sections mean the defaults.
     */
    public static MediaSettings read(Section root) {
        Section rtmpSection = root.table("rtmp");
        boolean rtmpPresent = rtmpSection.present();
        Rtmp rtmp = rtmp(rtmpSection);
        Ffmpeg ffmpeg = ffmpeg(root.table("ffmpeg"));
        List<WorkflowSpec> workflows = new ArrayList<>();
        for (Section w : root.tableList("workflows")) {
            String name = w.string("name", null);
            if (name == null || !name.matches("[A-Za-z0-9_-]{1,64}")) {
                throw w.error("name", "is required: a workflow name of 1 to 64 letters, digits, '_' or '-'"
                        + (name == null ? "" : ", got \"" + name + "\""));
            }
            for (WorkflowSpec other : workflows) {
                if (other.name().equals(name)) {
                    throw w.error("name", "a workflow named \"" + name + "\" is already defined at " + other.where());
                }
            }
            List<StepSpec> steps = new ArrayList<>();
            for (Section s : w.tableList("steps")) {
                steps.add(step(s));
            }
            if (steps.isEmpty()) {
                throw w.error("steps", "is required: a workflow needs at least one step, e.g. steps = [{ type = \"rtmp_receive\", app = \"live\" }]");
            }
            String where = w.where();
            w.finish();
            workflows.add(new WorkflowSpec(name, steps, where));
        }
        List<ReactorSpec> reactors = new ArrayList<>();
        for (Section r : root.tableList("reactors")) {
            String name = r.string("name", null);
            if (name == null || !name.matches("[A-Za-z0-9_-]{1,64}")) {
                throw r.error("name", "is required: a reactor name of 1 to 64 letters, digits, '_' or '-'");
            }
            String url = r.string("url", null);
            if (url == null || !(url.startsWith("http://") || url.startsWith("https://"))) {
                throw r.error("url", "is required: the http:// or https:// URL the stream name is POSTed to");
            }
            try {
                java.net.URI.create(url);
            } catch (IllegalArgumentException e) {
                throw r.error("url", "is not a valid URL: " + e.getMessage());
            }
            long interval = r.integer("update_interval", 60, 0, 86_400);
            String app = r.string("app", "*");
            String key = r.string("stream_key", "*");
            long timeout = r.integer("timeout_ms", 5_000, 100, 600_000);
            String where = r.where();
            r.finish();
            reactors.add(new ReactorSpec(name, url, interval, app, key, timeout, where));
        }
        HlsSettings hls = HlsSettings.read(root.table("hls"));
        return new MediaSettings(rtmpPresent || !workflows.isEmpty() || !reactors.isEmpty(), rtmp, ffmpeg, workflows, reactors, hls);
    }

    private static Rtmp rtmp(Section s) {
        Rtmp d = Rtmp.defaults();
        String host = s.string("host", d.host());
        int port = s.port("port", d.port());
        int maxMessage = (int) s.integer("max_message_bytes", d.maxMessageBytes(), 1024, 16 * 1024 * 1024 - 1);
        int maxChunk = (int) s.integer("max_chunk_size", d.maxChunkSize(), 128, 16 * 1024 * 1024 - 1);
        int chunk = (int) s.integer("chunk_size", d.chunkSize(), 128, 65_536);
        int window = (int) s.integer("window_ack_size", d.windowAckSize(), 4096, Integer.MAX_VALUE);
        int gop = (int) s.integer("gop_cache_bytes", d.gopCacheBytes(), 0, 256 * 1024 * 1024);
        int player = (int) s.integer("player_buffer_bytes", d.playerBufferBytes(), 16 * 1024, 256 * 1024 * 1024);
        Duration grace = d.publisherGrace();
        String graceText = s.string("publisher_grace", null);
        if (graceText != null) {
            try {
                grace = Duration.ofNanos(TimeSpans.parse(graceText));
            } catch (IllegalArgumentException e) {
                throw s.error("publisher_grace", e.getMessage());
            }
            if (grace.compareTo(Rtmp.MAX_PUBLISHER_GRACE) > 0) {
                throw s.error("publisher_grace", "expected at most \"10m\" (players wait that long for a publisher to come back), got \"" + graceText + "\"");
            }
        }
        Optional<JunctionConfig.Tls> tls = JunctionConfig.Tls.read(s.table("tls"), 1936);
        s.finish();
        return new Rtmp(host, port, tls, maxMessage, maxChunk, chunk, window, gop, player, grace);
    }

    private static Ffmpeg ffmpeg(Section s) {
        Ffmpeg d = Ffmpeg.defaults();
        String path = s.string("path", d.path());
        if (path.isBlank()) {
            throw s.error("path", "expected the ffmpeg program (a name on PATH or a file path), got an empty string");
        }
        long min = s.integer("restart_min_ms", d.restartMinMillis(), 10, 3_600_000);
        long max = s.integer("restart_max_ms", d.restartMaxMillis(), 10, 3_600_000);
        if (max < min) {
            throw s.error("restart_max_ms", "must be at least restart_min_ms (" + min + ")");
        }
        s.finish();
        return new Ffmpeg(path, min, max);
    }

    private static StepSpec step(Section s) {
        String type = s.string("type", null);
        if (type == null) {
            throw s.error("type", "is required: the step type, such as \"rtmp_receive\", \"rtmp_watch\" or \"ffmpeg_hls\"");
        }
        Map<String, Object> params = new LinkedHashMap<>();
        for (String key : s.keys()) {
            if (!key.equals("type")) {
                params.put(key, anyValue(s, key));
            }
        }
        String where = s.where();
        s.finish();
        return new StepSpec(type, params, where);
    }

    /** A step parameter's value, whatever its type; the media module checks it against the step's needs. */
    private static Object anyValue(Section s, String key) {
        try {
            return s.string(key, null);
        } catch (ConfigException notString) {
            // try the next type
        }
        try {
            return s.integer(key, 0, Long.MIN_VALUE, Long.MAX_VALUE);
        } catch (ConfigException notInteger) {
            // try the next type
        }
        try {
            return s.bool(key, false);
        } catch (ConfigException notBool) {
            // try the next type
        }
        try {
            return s.stringList(key, List.of());
        } catch (ConfigException notList) {
            throw s.error(key, "expected a string, a whole number, true or false, or a list of strings");
        }
    }
}
