package io.junction.media.ffmpeg;

import io.junction.media.MediaSettings;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The ffmpeg endpoint: the one owner of ffmpeg child processes. It starts them for the steps that need one, restarts
 * one that dies unexpectedly (with back-off, the reason logged), stops them when their step stops, and kills whatever
 * is left when the server stops. Processes that read Junction's pipe also end by themselves when the server is
 * killed: their standard input reaches end-of-file (see {@link FfmpegProcess}).
 */
public final class FfmpegEndpoint implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FfmpegEndpoint.class);

    private static final String DEFAULT_SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin";

    private final MediaSettings.Ffmpeg settings;
    private final String searchPath;
    private final CopyOnWriteArrayList<FfmpegProcess> processes = new CopyOnWriteArrayList<>();
    final Counter restarts;
    final Counter dropped;
    private volatile boolean closed;

    /** ffmpeg is not there; the message says what to install or configure. */
    public static final class MissingException extends RuntimeException {
        MissingException(String message) {
            super(message);
        }
    }

    /** An endpoint that looks for a bare program name in the usual system folders. */
    public FfmpegEndpoint(MediaSettings.Ffmpeg settings, MeterRegistry metrics) {
        this(settings, DEFAULT_SEARCH_PATH, metrics);
    }

    /**
     * An endpoint that looks for a bare program name in {@code searchPath} (the server's {@code PATH}, from the
     * environment the composition root was given).
     */
    public FfmpegEndpoint(MediaSettings.Ffmpeg settings, String searchPath, MeterRegistry metrics) {
        this.settings = settings;
        this.searchPath = searchPath == null || searchPath.isBlank() ? DEFAULT_SEARCH_PATH : searchPath;
        this.restarts = Counter.builder("junction_ffmpeg_restarts").description("ffmpeg processes restarted after dying unexpectedly").register(metrics);
        this.dropped = Counter.builder("junction_ffmpeg_dropped_packets").description("packets skipped because an ffmpeg process read too slowly").register(metrics);
        Gauge.builder("junction_ffmpeg_processes", processes, List::size).register(metrics);
    }

    /** The ffmpeg program to run, or {@link MissingException} with what to do. */
    public String program() {
        String p = settings.path();
        if (p.contains(File.separator)) {
            File f = new File(p);
            if (f.canExecute()) {
                return f.getAbsolutePath();
            }
            throw new MissingException("ffmpeg was not found at " + p + " ([ffmpeg] path): install it (apt-get install ffmpeg) or fix the path");
        }
        return find(p).orElseThrow(() -> new MissingException("ffmpeg ('" + p + "') is not installed or not on PATH: "
                + "install it (apt-get install ffmpeg) or give its location in [ffmpeg] path"));
    }

    private Optional<String> find(String program) {
        for (String dir : searchPath.split(File.pathSeparator)) {
            File f = new File(dir, program);
            if (f.canExecute()) {
                return Optional.of(f.getAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /**
     * Starts a supervised ffmpeg process with {@code args} (everything after the program name).
     *
     * @param name     what the process is for, in logs and the API (e.g. {@code live/ffmpeg_hls/cam1})
     * @param input    whether Junction feeds it FLV on standard input ({@link FfmpegProcess#feed})
     * @param listener receives the FLV tags it writes on standard output, when its arguments say {@code pipe:1}
     */
    public FfmpegProcess start(String name, List<String> args, boolean input, FfmpegProcess.Listener listener) {
        return start(name, args, input, listener, null);
    }

    /**
     * As {@link #start(String, List, boolean, FfmpegProcess.Listener)}, but the child is only started once
     * {@code after} completes (in any way; {@value FfmpegProcess#AFTER_MAX_MILLIS} ms at most): an HLS run waits for
     * the previous run of its folder to finish. What it is fed meanwhile waits for it in its bounded queue (beyond
     * that, frames are skipped to the next key frame, as for a child that reads too slowly).
     */
    public FfmpegProcess start(String name, List<String> args, boolean input, FfmpegProcess.Listener listener,
                               CompletableFuture<?> after) {
        if (closed) {
            throw new IllegalStateException("the ffmpeg endpoint is closed");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(program());
        cmd.addAll(List.of("-hide_banner", "-nostats", "-loglevel", "error"));
        if (!input) {
            cmd.add("-nostdin");
        }
        cmd.addAll(args);
        FfmpegProcess p = new FfmpegProcess(this, name, cmd, input, listener, settings.restartMinMillis(), settings.restartMaxMillis(), after);
        processes.add(p);
        p.start();
        return p;
    }

    void ended(FfmpegProcess p) {
        processes.remove(p);
    }

    public List<FfmpegProcess> processes() {
        return List.copyOf(processes);
    }

    /** Stops every process and waits for them (a few seconds at most); nothing is left running. */
    @Override
    public void close() {
        closed = true;
        List<CompletableFuture<Void>> stops = new ArrayList<>();
        for (FfmpegProcess p : processes) {
            stops.add(p.stop());
        }
        try {
            CompletableFuture.allOf(stops.toArray(new CompletableFuture<?>[0])).get(8, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("ffmpeg processes did not all stop in time: {}", e.toString());
            for (FfmpegProcess p : processes) {
                p.kill();
            }
        }
    }
}
