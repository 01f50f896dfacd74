package io.junction.media.workflow;

import io.junction.core.hub.EventHub;
import io.junction.core.testing.Tools;
import io.junction.media.MediaSettings;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.rtmp.MediaPacket;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The ffmpeg steps with real ffmpeg, driven directly as their workflow drives them. */
class FfmpegStepTest {

    @TempDir
    Path dir;

    private final EventHub hub = new EventHub(Clock.systemUTC());
    private FfmpegEndpoint ffmpeg;

    @AfterEach
    void stop() {
        if (ffmpeg != null) {
            ffmpeg.close();
        }
        hub.close();
    }

    /** What the workflow gives a step for its output; an HLS step produces none. */
    private static final Step.Output NO_OUTPUT = new Step.Output() {
        @Override
        public void retryLater(Duration delay) {
        }

        @Override
        public void started(String stream, String from) {
        }

        @Override
        public void media(String stream, MediaPacket packet) {
        }

        @Override
        public void ended(String stream) {
        }
    };

    /** A generated clip (H.264 with a key frame every second, AAC) as the packets a publisher's FLV tags make. */
    private List<MediaPacket> clip(String name, String size, int seconds) throws Exception {
        Path file = dir.resolve(name + ".flv");
        Process p = new ProcessBuilder(List.of("timeout", "-k", "2", "60", Tools.require("ffmpeg", "ffmpeg"),
                "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=" + size + ":rate=15",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", String.valueOf(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-f", "flv", file.toString())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(70, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
        b.position(b.getInt(5) + 4);
        List<MediaPacket> packets = new ArrayList<>();
        while (b.remaining() >= 15) {
            int type = b.get() & 0x1F;
            int size3 = ((b.get() & 0xFF) << 16) | ((b.get() & 0xFF) << 8) | (b.get() & 0xFF);
            int ts = ((b.get() & 0xFF) << 16) | ((b.get() & 0xFF) << 8) | (b.get() & 0xFF) | ((b.get() & 0xFF) << 24);
            b.position(b.position() + 3);
            byte[] data = new byte[size3];
            b.get(data);
            b.getInt();
            MediaPacket.Kind kind = MediaPacket.Kind.ofTypeId(type);
            if (kind != null) {
                packets.add(new MediaPacket(kind, ts, data));
            }
        }
        return packets;
    }

    /** Hands the packets to the step at four times their pace, as a publisher's media reaches it. */
    private static void feed(Step step, String stream, List<MediaPacket> packets) {
        long start = System.nanoTime();
        for (MediaPacket p : packets) {
            long due = start + TimeUnit.MILLISECONDS.toNanos(p.timestamp() / 4);
            LockSupport.parkNanos(due - System.nanoTime());
            step.media(stream, p);
        }
    }

    private static Set<String> files(Path folder, String suffix) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(suffix)).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static int width(Path segment) {
        try {
            Process p = new ProcessBuilder(List.of("timeout", "-k", "2", "20", Tools.require("ffprobe", "ffmpeg"), "-v", "error",
                    "-select_streams", "v:0", "-show_entries", "stream=width", "-of", "csv=p=0", segment.toString())).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(25, TimeUnit.SECONDS)).isTrue();
            // MPEG-TS lists the stream under its program too: the first line is enough.
            return Integer.parseInt(out.lines().filter(l -> !l.isBlank()).findFirst().orElseThrow(
                    () -> new AssertionError("ffprobe found no video in " + segment)).strip());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void anHlsRunForANamePublishedAgainAtOnceReplacesTheFolderOnlyAfterThePreviousRunFinishedIt() throws Exception {
        List<MediaPacket> first = clip("first", "320x240", 4);
        List<MediaPacket> second = clip("second", "160x120", 2);
        ffmpeg = new FfmpegEndpoint(new MediaSettings.Ffmpeg(Tools.require("ffmpeg", "ffmpeg"), 100, 1000), new SimpleMeterRegistry());
        MediaServices services = new MediaServices(ffmpeg, hub, dir.resolve("hls"), 0, new CopyOnWriteArrayList<>(),
                n -> Optional.empty(), Clock.systemUTC(), "test", java.time.Duration.ZERO);
        FfmpegStep step = new FfmpegStep("w", 1, new StepDefinition.FfmpegHls(1, 10), services, NO_OUTPUT);
        step.start();
        Path folder = FfmpegStep.hlsFolder(dir.resolve("hls"), "w", "cam");

        step.streamStarted("cam");
        feed(step, "cam", first);
        // The stream ends and the same name starts again at once, while the first run still finishes its playlist.
        step.streamEnded("cam");
        step.streamStarted("cam");
        feed(step, "cam", second);
        step.streamEnded("cam");
        await().atMost(Duration.ofSeconds(20)).until(() -> ffmpeg.processes().isEmpty());

        String playlist = Files.readString(folder.resolve("index.m3u8"));
        assertThat(playlist.strip()).as(playlist).endsWith("#EXT-X-ENDLIST");
        Set<String> listed = playlist.lines().filter(l -> l.endsWith(".ts")).collect(Collectors.toCollection(TreeSet::new));
        assertThat(listed).isNotEmpty();
        // Only the second run is in the folder: nothing the first one wrote after the second began is left.
        assertThat(files(folder, ".ts")).isEqualTo(listed);
        for (String s : listed) {
            assertThat(width(folder.resolve(s))).as(s).isEqualTo(160);
        }
    }
}
