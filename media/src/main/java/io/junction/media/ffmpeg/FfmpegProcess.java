package io.junction.media.ffmpeg;

import io.junction.media.rtmp.MediaPacket;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One supervised ffmpeg child. A virtual thread starts it, feeds it, reads it and, when it dies without being asked
 * to, logs why (exit code and its last error lines) and starts it again after a back-off that doubles up to the
 * configured maximum.
 *
 * <p>Input goes through a bounded queue to the child's standard input as FLV. The first child gets what was fed
 * from the start (the headers, then frames from the first key frame), also when it starts later than the process was
 * made; after a restart the child first gets the FLV header, the metadata and the sequence headers, then frames from
 * the next key frame (what waited for the dead one is stale); when the queue
 * is full (the child reads too slowly) frames are skipped to the next key frame and counted. Because the child
 * reads from a pipe that only this process holds, it sees end-of-file and exits when the server stops in any way,
 * {@code kill -9} included: no orphan keeps running. Children that only write (pulls) die of a broken pipe then.
 */
public final class FfmpegProcess {

    private static final Logger log = LoggerFactory.getLogger(FfmpegProcess.class);
    private static final int QUEUE = 1024;
    private static final int ERROR_LINES = 8;
    /** A child that ran this long before dying gets the shortest back-off again. */
    private static final long HEALTHY_MILLIS = 30_000;
    /** The longest a child waits for what it must start after (a stopping run takes 4 s at most before SIGKILL). */
    static final long AFTER_MAX_MILLIS = 10_000;

    /** What a process's standard output produced. Called on the process's reader thread, which may block. */
    public interface Listener {
        void output(MediaPacket packet);

        /** The current child's output ended (it exited); a restarted child's output follows. */
        default void outputEnded() {
        }
    }

    private final FfmpegEndpoint endpoint;
    private final String name;
    private final List<String> command;
    private final boolean input;
    private final Listener listener;
    private final long minBackoff;
    private final long maxBackoff;
    /** What the first child waits for before it starts; null for nothing. */
    private final CompletableFuture<?> after;
    private final ArrayBlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(QUEUE);
    private final ArrayDeque<String> lastErrors = new ArrayDeque<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private volatile Process process;
    private volatile boolean stopping;
    private volatile boolean needKey = true;
    private volatile MediaPacket metadata;
    private volatile MediaPacket videoHeader;
    private volatile MediaPacket audioHeader;
    private volatile int restarts;
    private volatile String lastExit = "";
    private Thread supervisor;

    FfmpegProcess(FfmpegEndpoint endpoint, String name, List<String> command, boolean input, Listener listener,
                  long minBackoff, long maxBackoff, CompletableFuture<?> after) {
        this.endpoint = endpoint;
        this.after = after;
        this.name = name;
        this.command = List.copyOf(command);
        this.input = input;
        this.listener = listener;
        this.minBackoff = minBackoff;
        this.maxBackoff = maxBackoff;
    }

    void start() {
        supervisor = Thread.ofVirtual().name("ffmpeg-" + name).start(this::supervise);
    }

    public String name() {
        return name;
    }

    /** The running child's pid, if one is running. */
    public OptionalLong pid() {
        Process p = process;
        return p != null && p.isAlive() ? OptionalLong.of(p.pid()) : OptionalLong.empty();
    }

    public int restarts() {
        return restarts;
    }

    /** Why the last child ended, or empty. */
    public String lastExit() {
        return lastExit;
    }

    public List<String> command() {
        return command;
    }

    /** Hands a packet to the child's standard input; never blocks. */
    public void feed(MediaPacket p) {
        if (!input || stopping) {
            return;
        }
        if (p.kind() == MediaPacket.Kind.METADATA) {
            metadata = p;
        } else if (p.sequenceHeader()) {
            if (p.kind() == MediaPacket.Kind.VIDEO) {
                videoHeader = p;
            } else {
                audioHeader = p;
            }
        } else if (needKey) {
            if (!p.keyframe()) {
                return;
            }
            needKey = false;
        }
        if (!queue.offer(Flv.tag(p))) {
            needKey = true;
            endpoint.dropped.increment();
        }
    }

    private void supervise() {
        long backoff = minBackoff;
        boolean waited = awaitAfter();
        boolean first = true;
        while (waited && !stopping) {
            long started = System.currentTimeMillis();
            Process p;
            try {
                p = new ProcessBuilder(command).redirectErrorStream(false)
                        .redirectOutput(listener == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.PIPE)
                        .start();
            } catch (IOException e) {
                lastExit = "could not start: " + e.getMessage();
                log.warn("ffmpeg {} could not start: {}", name, e.getMessage());
                if (!sleep(backoff)) {
                    break;
                }
                backoff = Math.min(backoff * 2, maxBackoff);
                continue;
            }
            process = p;
            log.info("ffmpeg {} started (pid {})", name, p.pid());
            Thread errors = Thread.ofVirtual().name("ffmpeg-err-" + name).start(() -> readErrors(p));
            boolean fresh = first;
            first = false;
            Thread writer = input ? Thread.ofVirtual().name("ffmpeg-in-" + name).start(() -> writeInput(p, fresh)) : null;
            if (!input) {
                try {
                    p.getOutputStream().close();
                } catch (IOException ignored) {
                    // the child does not read its standard input
                }
            }
            if (listener != null) {
                readOutput(p);
            }
            int code;
            try {
                code = p.waitFor();
            } catch (InterruptedException e) {
                kill();
                break;
            }
            if (writer != null) {
                writer.interrupt();
            }
            try {
                errors.join(1_000);
            } catch (InterruptedException e) {
                break;
            }
            if (stopping) {
                break;
            }
            long ran = System.currentTimeMillis() - started;
            backoff = ran >= HEALTHY_MILLIS ? minBackoff : backoff;
            restarts++;
            endpoint.restarts.increment();
            lastExit = "exited with code " + code + (lastErrors.isEmpty() ? "" : ": " + String.join(" | ", errorsSnapshot()));
            log.warn("ffmpeg {} (pid {}) {}; restarting in {} ms (restart {})", name, p.pid(), lastExit, backoff, restarts);
            if (!sleep(backoff)) {
                break;
            }
            backoff = Math.min(backoff * 2, maxBackoff);
        }
        process = null;
        endpoint.ended(this);
        stopped.complete(null);
    }

    /** Waits for {@link #after}; false when the process was stopped meanwhile. */
    private boolean awaitAfter() {
        if (after == null) {
            return true;
        }
        try {
            after.get(AFTER_MAX_MILLIS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            log.warn("ffmpeg {}: what it waited for failed ({}); starting anyway", name, e.getCause().toString());
        } catch (TimeoutException e) {
            log.warn("ffmpeg {}: what it waited for took longer than {} ms; starting anyway", name, AFTER_MAX_MILLIS);
        } catch (InterruptedException e) {
            return false;
        }
        return !stopping;
    }

    private boolean sleep(long millis) {
        long until = System.currentTimeMillis() + millis;
        while (!stopping) {
            long left = until - System.currentTimeMillis();
            if (left <= 0) {
                return true;
            }
            try {
                Thread.sleep(Math.min(left, 100));
            } catch (InterruptedException e) {
                return false;
            }
        }
        return false;
    }

    /** Feeds a child; {@code first} when it is the process's first child, whose queue holds the stream from its start. */
    private void writeInput(Process p, boolean first) {
        if (!first) {
            queue.clear();
            needKey = true;
        }
        try (OutputStream out = p.getOutputStream()) {
            out.write(Flv.HEADER);
            if (!first) {
                for (MediaPacket h : new MediaPacket[]{metadata, videoHeader, audioHeader}) {
                    if (h != null) {
                        out.write(Flv.tag(h));
                    }
                }
            }
            out.flush();
            while (!stopping && p.isAlive()) {
                byte[] tag = queue.poll(100, TimeUnit.MILLISECONDS);
                if (tag == null) {
                    continue;
                }
                out.write(tag);
                byte[] more;
                while ((more = queue.poll()) != null) {
                    out.write(more);
                }
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the child went away or we are stopping it; the supervisor takes it from here
        }
    }

    private void readOutput(Process p) {
        Flv.Reader reader = new Flv.Reader(p.getInputStream());
        try {
            MediaPacket packet;
            while ((packet = reader.next()) != null) {
                listener.output(packet);
            }
        } catch (IOException e) {
            if (!stopping) {
                log.warn("ffmpeg {} wrote output that could not be read: {}", name, e.getMessage());
                p.destroyForcibly();
            }
        } catch (RuntimeException e) {
            log.warn("ffmpeg {} output could not be handed on: {}", name, e.toString());
            p.destroyForcibly();
        } finally {
            listener.outputEnded();
        }
    }

    private void readErrors(Process p) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                log.debug("ffmpeg {}: {}", name, line);
                synchronized (lastErrors) {
                    if (lastErrors.size() == ERROR_LINES) {
                        lastErrors.pollFirst();
                    }
                    lastErrors.addLast(line);
                }
            }
        } catch (IOException ignored) {
            // the child ended
        }
    }

    private List<String> errorsSnapshot() {
        synchronized (lastErrors) {
            return List.copyOf(lastErrors);
        }
    }

    /**
     * Stops the child for good: closes its input (so it finishes its files), then SIGTERM after 2 s, SIGKILL after
     * 2 more. Completes when it is gone.
     */
    public CompletableFuture<Void> stop() {
        if (stopping) {
            return stopped;
        }
        stopping = true;
        Thread.ofVirtual().name("ffmpeg-stop-" + name).start(() -> {
            Process p = process;
            if (p != null) {
                try {
                    if (input) {
                        p.getOutputStream().close();
                    } else {
                        p.destroy();
                    }
                    if (!p.waitFor(2, TimeUnit.SECONDS)) {
                        p.destroy();
                        if (!p.waitFor(2, TimeUnit.SECONDS)) {
                            p.destroyForcibly();
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    p.destroyForcibly();
                }
            }
            if (supervisor != null) {
                supervisor.interrupt();
            }
        });
        return stopped;
    }

    /** Kills the child at once (the endpoint's last resort). */
    void kill() {
        stopping = true;
        Process p = process;
        if (p != null) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }
}
