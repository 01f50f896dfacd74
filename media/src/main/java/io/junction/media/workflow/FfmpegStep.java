package io.junction.media.workflow;

import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.ffmpeg.FfmpegProcess;
import io.junction.media.rtmp.MediaPacket;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * The steps that run one ffmpeg process per stream and feed it the stream as FLV on its standard input:
 * {@code ffmpeg_hls} (writes a playlist and segments), {@code ffmpeg_push} (sends to an RTMP URL) and
 * {@code ffmpeg_transcode} (whose FLV output goes on to the next step instead of the original).
 *
 * <p>A stream's process lives as long as the stream: when it ends, the process's input is closed (HLS then finishes
 * its playlist with {@code #EXT-X-ENDLIST}, and the finished playlist and segments stay on disk). What a transcoder
 * still writes after that (the frames it was encoding, what it flushes at the end of its input) is dropped, as mmids
 * drops a stopped stream's late notifications: the stream has ended for the next steps already, and its last output
 * must not start it again. An HLS folder is emptied when a new stream of that name starts, once the previous run
 * writing it has finished.
 */
final class FfmpegStep implements Step {

    private static final Logger log = LoggerFactory.getLogger(FfmpegStep.class);

    private final String workflow;
    private final int index;
    private final StepDefinition definition;
    private final MediaServices services;
    private final Step.Output output;
    private final Map<String, FfmpegProcess> processes = new LinkedHashMap<>();
    /** Per stream, whether its transcoder's output is still wanted; read on the process's reader thread. */
    private final Map<String, AtomicBoolean> wanted = new HashMap<>();
    /** Per stream, the HLS run told to stop, which may still be finishing its playlist in the stream's folder. */
    private final Map<String, CompletableFuture<Void>> finishing = new HashMap<>();
    private String program;

    FfmpegStep(String workflow, int index, StepDefinition definition, MediaServices services, Step.Output output) {
        this.workflow = workflow;
        this.index = index;
        this.definition = definition;
        this.services = services;
        this.output = output;
    }

    @Override
    public void start() {
        try {
            program = services.ffmpeg().program();
        } catch (FfmpegEndpoint.MissingException e) {
            throw new Step.Failure(e.getMessage());
        }
    }

    /** The folder an HLS stream is written to, under the data directory. */
    static Path hlsFolder(Path root, String workflow, String stream) {
        return root.resolve(workflow).resolve(stream);
    }

    @Override
    public void streamStarted(String stream) {
        end(stream);
        List<String> args = new ArrayList<>(List.of("-fflags", "+genpts", "-f", "flv", "-i", "pipe:0"));
        FfmpegProcess.Listener listener = null;
        CompletableFuture<Void> after = null;
        switch (definition) {
            case StepDefinition.FfmpegHls h -> {
                Path dir = hlsFolder(services.hlsRoot(), workflow, stream);
                CompletableFuture<Void> previous = finishing.remove(stream);
                if (previous == null || previous.isDone()) {
                    clear(dir);
                } else {
                    // The previous run still writes its last segment and playlist here: the new one starts after it.
                    create(dir);
                    after = previous.thenRun(() -> {
                        try {
                            clear(dir);
                        } catch (Step.Failure e) {
                            log.warn("workflow={} stream={}: {}", workflow, stream, e.getMessage());
                        }
                    });
                }
                args.addAll(List.of("-c", "copy", "-f", "hls",
                        "-hls_time", String.valueOf(h.segmentSeconds()),
                        "-hls_list_size", String.valueOf(h.segmentCount()),
                        "-hls_flags", "delete_segments+temp_file+independent_segments",
                        "-hls_segment_filename", dir.resolve("segment-%05d.ts").toString(),
                        dir.resolve("index.m3u8").toString()));
            }
            case StepDefinition.FfmpegPush p -> args.addAll(List.of("-c", "copy", "-rw_timeout", "10000000", "-f", "flv",
                    p.url().replace("{stream}", stream)));
            case StepDefinition.FfmpegTranscode t -> {
                if (t.videoCodec().equals("copy")) {
                    args.addAll(List.of("-c:v", "copy"));
                } else {
                    args.addAll(List.of("-c:v", "libx264", "-preset", t.preset(), "-tune", "zerolatency",
                            "-pix_fmt", "yuv420p", "-force_key_frames", "expr:gte(t,n_forced*1)"));
                    if (!t.size().isEmpty()) {
                        args.addAll(List.of("-s", t.size()));
                    }
                    if (t.kbps() > 0) {
                        args.addAll(List.of("-b:v", t.kbps() + "k"));
                    }
                }
                args.addAll(List.of("-c:a", t.audioCodec().equals("copy") ? "copy" : "aac", "-f", "flv", "pipe:1"));
                AtomicBoolean live = new AtomicBoolean(true);
                wanted.put(stream, live);
                listener = new FfmpegProcess.Listener() {
                    @Override
                    public void output(MediaPacket packet) {
                        if (live.get()) {
                            output.media(stream, packet);
                        }
                    }
                };
            }
            default -> throw new IllegalStateException("not an ffmpeg step: " + definition.type());
        }
        processes.put(stream, services.ffmpeg().start(workflow + "/" + definition.type() + "/" + stream, args, true, listener, after));
    }

    /** Ends the stream's run: its output is no longer wanted and its process stops (HLS finishing its playlist). */
    private void end(String stream) {
        AtomicBoolean live = wanted.remove(stream);
        if (live != null) {
            live.set(false);
        }
        FfmpegProcess p = processes.remove(stream);
        if (p != null) {
            CompletableFuture<Void> stopped = p.stop();
            if (definition instanceof StepDefinition.FfmpegHls) {
                finishing.values().removeIf(CompletableFuture::isDone);
                finishing.put(stream, stopped);
            }
        }
    }

    private static void create(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Step.Failure("cannot prepare the HLS folder " + dir + ": " + e.getMessage());
        }
    }

    private static void clear(Path dir) {
        create(dir);
        try {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            throw new Step.Failure("cannot prepare the HLS folder " + dir + ": " + e.getMessage());
        }
    }

    @Override
    public boolean media(String stream, MediaPacket packet) {
        FfmpegProcess p = processes.get(stream);
        if (p == null && !(definition instanceof StepDefinition.FfmpegTranscode)) {
            return true;
        }
        if (p != null) {
            p.feed(packet);
        }
        return !(definition instanceof StepDefinition.FfmpegTranscode);
    }

    @Override
    public void streamEnded(String stream) {
        end(stream);
    }

    @Override
    public void stop() {
        for (AtomicBoolean live : wanted.values()) {
            live.set(false);
        }
        wanted.clear();
        for (FfmpegProcess p : processes.values()) {
            p.stop();
        }
        processes.clear();
        finishing.clear();
    }

    @Override
    public Map<String, Object> info() {
        List<Map<String, Object>> list = new ArrayList<>();
        for (Map.Entry<String, FfmpegProcess> e : processes.entrySet()) {
            list.add(describe(e.getKey(), e.getValue()));
        }
        return Map.of("processes", list);
    }

    static Map<String, Object> describe(String stream, FfmpegProcess p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("stream", stream);
        m.put("pid", p.pid().isPresent() ? p.pid().getAsLong() : null);
        m.put("restarts", p.restarts());
        m.put("lastExit", p.lastExit());
        return m;
    }
}
