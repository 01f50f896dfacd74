package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.http;
import static io.junction.server.media.MediaTools.probe;
import static io.junction.server.media.MediaTools.stream;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Steps that start while a stream is live (a workflow created mid-stream, a step added by an update) get the
 * metadata, sequence headers and current group of pictures first, so what they make is decodable; an update keeps
 * the steps it does not change running, with their players; two workflows cannot serve players on the same app and
 * stream key. Real ffmpeg publishes a lavfi picture with a tone; real ffmpeg/ffprobe read what comes out.
 */
class LateStepsTest {

    @TempDir
    static Path dir;

    static Junction node;
    static int http;
    static int rtmp;
    /** Every child this test starts, killed after each test whatever happened. */
    final List<Process> children = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        Tools.require("ffprobe", "ffmpeg");
        node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [ffmpeg]
                restart_min_ms = 200
                restart_max_ms = 2000
                """));
        http = node.httpPort();
        rtmp = get(http, "/api/media").json().path("rtmp").path("port").asInt();
        assertThat(rtmp).isPositive();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    @AfterEach
    void killChildren() {
        for (Process p : children) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    private static String url(String app, String key) {
        return "rtmp://127.0.0.1:" + rtmp + "/" + app + "/" + key;
    }

    /** ffmpeg publishing a 320x240, 25 fps test picture with a tone (H.264 with a key frame a second, AAC). */
    private Process publish(String app, String key, int seconds) throws IOException {
        Path log = dir.resolve("logs/" + app + "-" + key + ".log");
        Files.createDirectories(log.getParent());
        Process p = new ProcessBuilder(List.of("timeout", "-k", "2", String.valueOf(seconds + 20), Tools.require("ffmpeg", "ffmpeg"),
                "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
                "-t", String.valueOf(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url(app, key)))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        children.add(p);
        return p;
    }

    private static void put(String workflow, String body, int status) throws Exception {
        MediaTools.Reply r = http("PUT", http, "/api/workflows/" + workflow, body);
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.json().path("state").asText()).as(r.text()).isEqualTo("active");
    }

    /** Waits until {@code workflow} has passed some packets of {@code stream}: the stream is live there. */
    private static void awaitLive(String workflow, String stream) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            for (JsonNode s : get(http, "/api/workflows/" + workflow).json().path("streams")) {
                if (s.path("name").asText().equals(stream) && s.path("packets").asLong() > 50) {
                    return true;
                }
            }
            return false;
        });
    }

    @Test
    void aWorkflowCreatedWhileTheStreamIsLiveWritesHlsWithPictureAndSound() throws Exception {
        put("lateBase", """
                {"steps": [{"type": "rtmp_receive", "app": "late"}]}""", 201);
        publish("late", "cam", 12);
        awaitLive("lateBase", "cam");

        put("lateHls", """
                {"steps": [{"type": "rtmp_receive", "app": "late"}, {"type": "ffmpeg_hls", "segment_seconds": 1}]}""", 201);
        await().atMost(Duration.ofSeconds(20)).until(() -> get(http, "/hls/lateHls/cam/index.m3u8").text().contains(".ts"));
        String segment = get(http, "/hls/lateHls/cam/index.m3u8").text().lines().filter(l -> l.endsWith(".ts")).findFirst().orElseThrow();
        JsonNode hls = probe("http://127.0.0.1:" + http + Clients.withToken(http, "/hls/lateHls/cam/" + segment), true, 20);
        JsonNode video = stream(hls, "video");
        assertThat(video.path("codec_name").asText()).isEqualTo("h264");
        assertThat(video.path("width").asInt()).as("the first segment's picture has a size: %s", hls).isEqualTo(320);
        assertThat(video.path("nb_read_frames").asInt()).isPositive();
        assertThat(stream(hls, "audio").path("codec_name").asText()).as("the first segment has sound: %s", hls).isEqualTo("aac");
    }

    @Test
    void aStepAddedByAnUpdateWhileTheStreamIsLiveServesPlayableMedia() throws Exception {
        put("grow", """
                {"steps": [{"type": "rtmp_receive", "app": "grow"}, {"type": "rtmp_watch", "app": "growwatch1"}]}""", 201);
        publish("grow", "cam", 12);
        awaitLive("grow", "cam");

        put("grow", """
                {"steps": [{"type": "rtmp_receive", "app": "grow"}, {"type": "rtmp_watch", "app": "growwatch1"},
                           {"type": "rtmp_watch", "app": "growwatch2"}]}""", 200);
        JsonNode player = probe(url("growwatch2", "cam"), false, 20);
        assertThat(stream(player, "video").path("codec_name").asText()).isEqualTo("h264");
        assertThat(stream(player, "video").path("width").asInt()).as("%s", player).isEqualTo(320);
        assertThat(stream(player, "audio").path("codec_name").asText()).as("%s", player).isEqualTo("aac");
    }

    @Test
    void aPlayerOfOneStepKeepsPlayingAcrossAnUpdateThatChangesAnotherStep() throws Exception {
        put("keep", """
                {"steps": [{"type": "rtmp_receive", "app": "keep"}, {"type": "ffmpeg_hls", "segment_seconds": 1},
                           {"type": "rtmp_watch", "app": "keepwatch"}]}""", 201);
        publish("keep", "cam", 14);
        awaitLive("keep", "cam");

        Path progress = dir.resolve("logs/keep-player.progress");
        Process player = new ProcessBuilder(List.of("timeout", "-k", "2", "40", Tools.require("ffmpeg", "ffmpeg"),
                "-hide_banner", "-loglevel", "error", "-rw_timeout", "5000000", "-i", url("keepwatch", "cam"),
                "-progress", progress.toString(), "-f", "null", "-"))
                .redirectErrorStream(true).redirectOutput(dir.resolve("logs/keep-player.log").toFile()).start();
        children.add(player);
        await().atMost(Duration.ofSeconds(20)).until(() -> frames(progress) > 25);

        // Only the HLS step changes: the watch step after it, and its player, go on.
        put("keep", """
                {"steps": [{"type": "rtmp_receive", "app": "keep"}, {"type": "ffmpeg_hls", "segment_seconds": 2},
                           {"type": "rtmp_watch", "app": "keepwatch"}]}""", 200);
        long atUpdate = frames(progress);
        await().atMost(Duration.ofSeconds(20)).until(() -> !player.isAlive() || frames(progress) > atUpdate + 50);
        assertThat(player.isAlive()).as("the player was not disconnected: %s",
                Files.readString(dir.resolve("logs/keep-player.log"))).isTrue();
        assertThat(frames(progress)).isGreaterThan(atUpdate + 50);
        JsonNode steps = get(http, "/api/workflows/keep").json().path("steps");
        assertThat(steps.get(1).path("params").path("segment_seconds").asInt()).isEqualTo(2);
        assertThat(steps.get(2).path("players").path("cam").asInt()).isEqualTo(1);
    }

    /** The last {@code frame=} an ffmpeg {@code -progress} file reports. */
    private static long frames(Path progress) throws IOException {
        if (!Files.exists(progress)) {
            return 0;
        }
        long frames = 0;
        for (String line : Files.readAllLines(progress)) {
            if (line.startsWith("frame=")) {
                frames = Long.parseLong(line.substring(6).trim());
            }
        }
        return frames;
    }

    @Test
    void twoWorkflowsCannotServePlayersOnTheSameAppAndStreamKey() throws Exception {
        put("watchOne", """
                {"steps": [{"type": "rtmp_receive", "app": "one"}, {"type": "rtmp_watch", "app": "shared"}]}""", 201);
        MediaTools.Reply refused = http("PUT", http, "/api/workflows/watchTwo", """
                {"steps": [{"type": "rtmp_receive", "app": "two"}, {"type": "rtmp_watch", "app": "shared", "stream_key": "cam"}]}""");
        assertThat(refused.status()).as(refused.text()).isEqualTo(409);
        assertThat(refused.json().path("detail").asText())
                .contains("watchTwo").contains("watchOne").contains("shared");
        assertThat(get(http, "/api/workflows/watchTwo").status()).isEqualTo(404);

        // Another app is fine; and a workflow's update does not collide with itself.
        put("watchTwo", """
                {"steps": [{"type": "rtmp_receive", "app": "two"}, {"type": "rtmp_watch", "app": "shared2", "stream_key": "cam"}]}""", 201);
        put("watchOne", """
                {"steps": [{"type": "rtmp_receive", "app": "one"}, {"type": "rtmp_watch", "app": "shared", "stream_key": "cam"}]}""", 200);
        // Two specific, different stream keys on one app do not overlap.
        put("watchTwo", """
                {"steps": [{"type": "rtmp_receive", "app": "two"}, {"type": "rtmp_watch", "app": "shared", "stream_key": "cam2"}]}""", 200);

        // The one that serves the app still plays.
        publish("one", "cam", 8);
        awaitLive("watchOne", "cam");
        JsonNode player = probe(url("shared", "cam"), false, 20);
        assertThat(stream(player, "video").path("width").asInt()).isEqualTo(320);
    }

    @Test
    void aConfigFileWithTwoWorkflowsServingPlayersOnTheSameAppIsRefusedBeforeAnythingStarts(@TempDir Path other) {
        assertThatThrownBy(() -> Junction.start(Clients.config(other, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [[workflows]]
                name = "a"
                steps = [{ type = "rtmp_receive", app = "a" }, { type = "rtmp_watch", app = "watch" }]

                [[workflows]]
                name = "b"
                steps = [{ type = "rtmp_receive", app = "b" }, { type = "rtmp_watch", app = "watch", stream_key = "cam" }]
                """)).close())
                .hasMessageContaining("test.toml:")
                .hasMessageContaining("workflow 'b' step 2 (rtmp_watch) would serve players on app 'watch' with stream key 'cam', which workflow 'a' already serves");
    }
}
