package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.http;
import static io.junction.server.media.MediaTools.probe;
import static io.junction.server.media.MediaTools.publish;
import static io.junction.server.media.MediaTools.stream;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * When a publisher stops, a workflow with a transcode step ends the stream for good: every step's ffmpeg stops, the
 * stream is no longer listed, the transcoder's trailing output re-creates nothing, and the HLS playlist is finished
 * ({@code #EXT-X-ENDLIST}) and stays on disk, playable, until the same stream name is published again.
 */
class StreamEndTest {

    @TempDir
    static Path dir;

    static Junction node;
    static int http;
    static int rtmp;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        Tools.require("ffprobe", "ffmpeg");
        node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [[workflows]]
                name = "tr"
                steps = [
                  { type = "rtmp_receive", app = "tr" },
                  { type = "ffmpeg_transcode", size = "160x120", h264_preset = "ultrafast", kbps = 200 },
                  { type = "ffmpeg_hls", segment_seconds = 1 },
                ]

                [[workflows]]
                name = "pushed"
                steps = [{ type = "rtmp_receive", app = "pushed" }]
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

    private static String url(String app, String key) {
        return "rtmp://127.0.0.1:" + rtmp + "/" + app + "/" + key;
    }

    /** The ffmpeg processes below this JVM: the server's children and the tests' publishers. */
    private static Set<Long> ffmpegPids() {
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().command().map(c -> c.endsWith("/ffmpeg")).orElse(false))
                .map(ProcessHandle::pid)
                .collect(Collectors.toSet());
    }

    /** The names of the streams a workflow lists as live. */
    private static List<String> liveStreams(String workflow) throws Exception {
        return get(http, "/api/workflows/" + workflow).json().path("streams").findValuesAsText("name");
    }

    /** Waits for a publisher that stops by itself (ffmpeg's -t) and fails if it did not end cleanly. */
    private static void awaitEnd(Process pub, Path log) throws Exception {
        assertThat(pub.waitFor(40, TimeUnit.SECONDS)).as("publisher ended").isTrue();
        assertThat(pub.exitValue()).as(Files.readString(log)).isZero();
    }

    /**
     * Once the publisher has gone: no ffmpeg of the server is left, the stream is listed nowhere, and that stays so
     * (the transcoder's last output must not start the stream, and a new child, again).
     */
    private static void assertEndedForGood(Set<Long> before, String... workflows) {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(ffmpegPids()).as("ffmpeg processes").isEqualTo(before);
            for (String w : workflows) {
                assertThat(liveStreams(w)).as("streams of " + w).isEmpty();
            }
        });
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(ffmpegPids()).as("ffmpeg processes").isEqualTo(before);
            for (String w : workflows) {
                assertThat(liveStreams(w)).as("streams of " + w).isEmpty();
            }
        });
    }

    @Test
    void transcodedHlsIsFinishedAndKeptWhenTheStreamEnds() throws Exception {
        Set<Long> before = ffmpegPids();
        Path folder = dir.resolve("data/media/hls/tr/cam1");
        Path playlist = folder.resolve("index.m3u8");
        Path log = dir.resolve("logs/cam1.log");
        Process pub = publish(url("tr", "cam1"), 4, log);
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> liveStreams("tr").contains("cam1"));
            awaitEnd(pub, log);
        } finally {
            pub.destroyForcibly();
        }
        assertEndedForGood(before, "tr");

        String text = Files.readString(playlist);
        assertThat(text.strip()).as(text).endsWith("#EXT-X-ENDLIST");
        List<String> segments = text.lines().filter(l -> l.endsWith(".ts")).toList();
        assertThat(segments).isNotEmpty();
        for (String s : segments) {
            assertThat(folder.resolve(s)).exists();
        }
        MediaTools.Reply served = get(http, "/hls/tr/cam1/index.m3u8");
        assertThat(served.status()).isEqualTo(200);
        assertThat(served.text()).isEqualTo(text);
        // The finished playlist plays to its end: ffprobe reads every segment and stops at the end list.
        JsonNode video = stream(probe("http://127.0.0.1:" + http + "/hls/tr/cam1/index.m3u8", true, 30), "video");
        assertThat(video.path("width").asInt()).isEqualTo(160);
        assertThat(video.path("nb_read_frames").asInt()).isPositive();

        // The same name published again starts a fresh HLS run: the folder is emptied and written anew, and the new
        // playlist is finished and kept the same way when that stream ends.
        FileTime secondStart = FileTime.fromMillis(System.currentTimeMillis());
        Path log2 = dir.resolve("logs/cam1-again.log");
        Process again = publish(url("tr", "cam1"), 4, log2);
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> liveStreams("tr").contains("cam1"));
            awaitEnd(again, log2);
        } finally {
            again.destroyForcibly();
        }
        assertEndedForGood(before, "tr");
        String text2 = Files.readString(playlist);
        assertThat(text2.strip()).as(text2).endsWith("#EXT-X-ENDLIST");
        List<String> segments2 = text2.lines().filter(l -> l.endsWith(".ts")).toList();
        assertThat(segments2).isNotEmpty();
        assertThat(Files.getLastModifiedTime(playlist)).isGreaterThanOrEqualTo(secondStart);
        try (Stream<Path> files = Files.list(folder)) {
            for (Path f : files.toList()) {
                assertThat(Files.getLastModifiedTime(f)).as(f + " is of the second run").isGreaterThanOrEqualTo(secondStart);
            }
        }
        for (String s : segments2) {
            assertThat(folder.resolve(s)).exists();
        }
    }

    @Test
    void transcodedPushEndsWithTheStream() throws Exception {
        MediaTools.Reply put = http("PUT", http, "/api/workflows/trpush", """
                {"steps": [{"type": "rtmp_receive", "app": "trpush"},
                           {"type": "ffmpeg_transcode", "size": "160x120", "h264_preset": "ultrafast", "kbps": 200},
                           {"type": "ffmpeg_push", "url": "rtmp://127.0.0.1:%d/pushed/{stream}"}]}""".formatted(rtmp));
        assertThat(put.status()).as(put.text()).isEqualTo(201);
        Set<Long> before = ffmpegPids();
        Path log = dir.resolve("logs/cam2.log");
        Process pub = publish(url("trpush", "cam2"), 4, log);
        try {
            // The push works: the transcoded stream arrives at the other app.
            await().atMost(Duration.ofSeconds(20)).until(() -> liveStreams("pushed").contains("cam2"));
            awaitEnd(pub, log);
        } finally {
            pub.destroyForcibly();
        }
        assertEndedForGood(before, "trpush", "pushed");
        assertThat(get(http, "/api/media").json().path("rtmp").path("publishers").asInt()).isZero();
    }
}
