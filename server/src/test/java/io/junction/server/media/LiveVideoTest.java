package io.junction.server.media;

import io.junction.server.Clients;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;

import io.junction.core.config.JunctionConfig;
import io.junction.core.testing.Tools;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.http;
import static io.junction.server.media.MediaTools.probe;
import static io.junction.server.media.MediaTools.publish;
import static io.junction.server.media.MediaTools.stream;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Live video end to end: real ffmpeg publishes to the RTMP endpoint, real ffmpeg/ffprobe play over RTMP and HLS,
 * workflows come from the config file, the API and a reactor backed by a small HTTP server.
 */
class LiveVideoTest {

    @TempDir
    static Path dir;

    static Junction node;
    static int http;
    static int rtmp;
    static HttpServer reactor;
    static final List<String> reactorAsked = new CopyOnWriteArrayList<>();
    /** Players run side by side (the common pool may have a single thread on a small machine). */
    static final ExecutorService READERS = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        Tools.require("ffprobe", "ffmpeg");
        // The reactor service: stream "r1" gets a workflow (in mmids' format), anything else 404.
        reactor = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        reactor.createContext("/reactor", ex -> {
            String stream = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            reactorAsked.add(stream);
            byte[] body = ("workflow " + stream + "_flow {\n    rtmp_watch rtmp_app=dynwatch stream_key=*\n}\n").getBytes(StandardCharsets.UTF_8);
            if (stream.equals("r1")) {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            } else {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        reactor.start();
        JunctionConfig config = Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [ffmpeg]
                restart_min_ms = 200
                restart_max_ms = 2000

                [[workflows]]
                name = "live"
                steps = [
                  { type = "rtmp_receive", app = "live", stream_key = "*" },
                  { type = "ffmpeg_hls", segment_seconds = 1 },
                  { type = "rtmp_watch", app = "watch", stream_key = "*" },
                ]

                [[workflows]]
                name = "small"
                steps = [
                  { type = "rtmp_receive", app = "small" },
                  { type = "ffmpeg_transcode", size = "160x120", h264_preset = "ultrafast", kbps = 200 },
                  { type = "rtmp_watch", app = "smallwatch" },
                ]

                [[workflows]]
                name = "second"
                steps = [
                  { type = "rtmp_receive", app = "second" },
                  { type = "rtmp_watch", app = "secondwatch" },
                ]

                [[reactors]]
                name = "dyn"
                url = "http://127.0.0.1:%d/reactor"
                app = "dyn"
                update_interval = 1
                """.formatted(reactor.getAddress().getPort()));
        node = Junction.start(config);
        http = node.httpPort();
        rtmp = get(http, "/api/media").json().path("rtmp").path("port").asInt();
        assertThat(rtmp).isPositive();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
        if (reactor != null) {
            reactor.stop(0);
        }
    }

    private static String url(String app, String key) {
        return "rtmp://127.0.0.1:" + rtmp + "/" + app + "/" + key;
    }

    private static void awaitStream(String workflow, String stream) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            JsonNode w = get(http, "/api/workflows/" + workflow).json();
            for (JsonNode s : w.path("streams")) {
                if (s.path("name").asText().equals(stream) && s.path("packets").asLong() > 10) {
                    return true;
                }
            }
            return false;
        });
    }

    @Test
    void publishedStreamReachesTwoPlayersAndIsServedAsHls() throws Exception {
        Process pub = publish(url("live", "cam1"), 8, dir.resolve("logs/cam1.log"));
        try {
            awaitStream("live", "cam1");
            CompletableFuture<JsonNode> first = CompletableFuture.supplyAsync(() -> probeQuietly(url("watch", "cam1")), READERS);
            CompletableFuture<JsonNode> second = CompletableFuture.supplyAsync(() -> probeQuietly(url("watch", "cam1")), READERS);

            await().atMost(Duration.ofSeconds(20)).until(() -> get(http, "/hls/live/cam1/index.m3u8").text().contains(".ts"));
            MediaTools.Reply playlist = get(http, "/hls/live/cam1/index.m3u8");
            assertThat(playlist.status()).isEqualTo(200);
            String segment = playlist.text().lines().filter(l -> l.endsWith(".ts")).findFirst().orElseThrow();
            JsonNode hls = probe("http://127.0.0.1:" + http + Clients.withToken(http, "/hls/live/cam1/" + segment), true, 20);
            assertThat(stream(hls, "video").path("codec_name").asText()).isEqualTo("h264");
            assertThat(stream(hls, "video").path("nb_read_frames").asInt()).isPositive();
            assertThat(stream(hls, "audio").path("codec_name").asText()).isEqualTo("aac");

            for (JsonNode player : List.of(first.join(), second.join())) {
                JsonNode video = stream(player, "video");
                assertThat(video.path("codec_name").asText()).isEqualTo("h264");
                assertThat(video.path("width").asInt()).isEqualTo(320);
                assertThat(video.path("height").asInt()).isEqualTo(240);
                // The players joined a few seconds in and read until the publisher stopped (8 s at 15 fps).
                assertThat(video.path("nb_read_frames").asInt()).isGreaterThan(15);
                assertThat(stream(player, "audio").path("codec_name").asText()).isEqualTo("aac");
            }
        } finally {
            pub.destroyForcibly();
        }
        assertThat(get(http, "/hls/live/nope/index.m3u8").status()).isEqualTo(404);
        assertThat(get(http, "/hls/live/cam1/..%2F..%2Fjunction.lock").status()).isEqualTo(404);
    }

    private static JsonNode probeQuietly(String url) {
        try {
            return probe(url, true, 40);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void transcodeStepChangesTheResolution() throws Exception {
        Process pub = publish(url("small", "cam2"), 6, dir.resolve("logs/cam2.log"));
        try {
            awaitStream("small", "cam2");
            JsonNode video = stream(probe(url("smallwatch", "cam2"), false, 20), "video");
            assertThat(video.path("width").asInt()).isEqualTo(160);
            assertThat(video.path("height").asInt()).isEqualTo(120);
        } finally {
            pub.destroyForcibly();
        }
    }

    @Test
    void pushStepDeliversTheStreamToASecondWorkflow() throws Exception {
        MediaTools.Reply put = http("PUT", http, "/api/workflows/pusher", """
                {"steps": [{"type": "rtmp_receive", "app": "pushin"},
                           {"type": "ffmpeg_push", "url": "rtmp://127.0.0.1:%d/second/{stream}"}]}""".formatted(rtmp));
        assertThat(put.status()).as(put.text()).isEqualTo(201);
        Process pub = publish(url("pushin", "cam3"), 8, dir.resolve("logs/cam3.log"));
        try {
            awaitStream("second", "cam3");
            JsonNode video = stream(probe(url("secondwatch", "cam3"), false, 20), "video");
            assertThat(video.path("codec_name").asText()).isEqualTo("h264");
            assertThat(video.path("width").asInt()).isEqualTo(320);
        } finally {
            pub.destroyForcibly();
            http("DELETE", http, "/api/workflows/pusher", null);
        }
    }

    @Test
    void killedFfmpegChildIsRestartedAndHlsGoesOn() throws Exception {
        Process pub = publish(url("live", "cam4"), 14, dir.resolve("logs/cam4.log"));
        try {
            awaitStream("live", "cam4");
            long pid = await().atMost(Duration.ofSeconds(10)).until(() -> hlsProcess("cam4").path("pid").asLong(0), p -> p > 0);
            await().atMost(Duration.ofSeconds(15)).until(() -> get(http, "/hls/live/cam4/index.m3u8").text().contains(".ts"));
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();

            JsonNode after = await().atMost(Duration.ofSeconds(15)).until(() -> hlsProcess("cam4"),
                    p -> p.path("restarts").asInt() == 1 && p.path("pid").asLong(0) > 0 && p.path("pid").asLong() != pid);
            assertThat(after.path("lastExit").asText()).startsWith("exited with code");
            // The restarted child writes the playlist again from the next key frame.
            Path playlist = dir.resolve("data/media/hls/live/cam4/index.m3u8");
            long before = Files.getLastModifiedTime(playlist).toMillis();
            await().atMost(Duration.ofSeconds(15)).until(() -> Files.exists(playlist) && Files.getLastModifiedTime(playlist).toMillis() > before);
        } finally {
            pub.destroyForcibly();
        }
    }

    private static JsonNode hlsProcess(String stream) throws Exception {
        JsonNode steps = get(http, "/api/workflows/live").json().path("steps");
        for (JsonNode p : steps.get(1).path("processes")) {
            if (p.path("stream").asText().equals(stream)) {
                return p;
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }

    @Test
    void reactorCreatesAWorkflowWhileTheStreamLivesAndRemovesItAfter() throws Exception {
        Process pub = publish(url("dyn", "r1"), 6, dir.resolve("logs/r1.log"));
        try {
            JsonNode w = await().atMost(Duration.ofSeconds(20)).until(() -> get(http, "/api/workflows/r1_flow"), r -> r.status() == 200).json();
            assertThat(w.path("source").asText()).isEqualTo("reactor:dyn");
            JsonNode video = stream(probe(url("dynwatch", "r1"), false, 20), "video");
            assertThat(video.path("codec_name").asText()).isEqualTo("h264");
            // update_interval = 1: the reactor is asked again while the stream lives.
            await().atMost(Duration.ofSeconds(10)).until(() -> reactorAsked.stream().filter("r1"::equals).count() >= 2);
        } finally {
            pub.waitFor();
        }
        // After the publisher grace period (10 s by default), in case the publisher came back.
        await().atMost(Duration.ofSeconds(30)).until(() -> get(http, "/api/workflows/r1_flow").status() == 404);
    }

    @Test
    void publishThatNoWorkflowNorReactorAcceptsIsRefused() throws Exception {
        Path log = dir.resolve("logs/refused.log");
        Process pub = publish(url("dyn", "unknown"), 3, log);
        assertThat(pub.waitFor()).isNotZero();
        assertThat(Files.readString(log)).contains("reactor 'dyn' has no workflow for stream 'unknown'");
        assertThat(reactorAsked).contains("unknown");

        Path log2 = dir.resolve("logs/refused2.log");
        Process pub2 = publish(url("nothing", "cam"), 3, log2);
        assertThat(pub2.waitFor()).isNotZero();
        assertThat(Files.readString(log2)).contains("no workflow accepts a publish on app 'nothing' with stream key 'cam'");
    }

    @Test
    void garbageOnTheRtmpPortLeavesTheOtherStreamsRunning() throws Exception {
        Process pub = publish(url("live", "cam6"), 8, dir.resolve("logs/cam6.log"));
        try {
            awaitStream("live", "cam6");
            CompletableFuture<JsonNode> player = CompletableFuture.supplyAsync(() -> probeQuietly(url("watch", "cam6")), READERS);
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket("127.0.0.1", rtmp)) {
                    s.setSoTimeout(5_000);
                    OutputStream o = s.getOutputStream();
                    byte[] junk = new byte[4096];
                    new java.util.Random(i).nextBytes(junk);
                    junk[0] = (byte) (i == 0 ? 'G' : 3);   // not RTMP at all, then RTMP's version with garbage chunks
                    o.write(junk);
                    o.flush();
                    assertThat(closedByServer(s)).isTrue();
                }
            }
            assertThat(stream(player.join(), "video").path("nb_read_frames").asInt()).isGreaterThan(30);
            assertThat(pub.waitFor()).as("the publisher was not disturbed").isZero();
        } finally {
            pub.destroyForcibly();
        }
    }

    /** Reads until the server closes; a reset (the server closed with our bytes unread) counts as closed. */
    private static boolean closedByServer(Socket s) throws java.io.IOException {
        try {
            s.getInputStream().readAllBytes();
            return true;
        } catch (java.net.SocketException reset) {
            return true;
        } catch (java.net.SocketTimeoutException stillOpen) {
            return false;
        }
    }

    @Test
    void workflowApiDefinesListsAndDeletesWorkflowsAndTheHubShowsIt() throws Exception {
        try (Clients.Ws ws = new Clients.Ws(http)) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"workflow.#\",\"source\":\"events\"}");
            MediaTools.Reply bad = http("PUT", http, "/api/workflows/api1", """
                    {"steps": [{"type": "rtmp_receive", "app": "a1"}, {"type": "ffmpeg_hls", "segment_seconds": "soon"}]}""");
            assertThat(bad.status()).isEqualTo(400);
            assertThat(bad.json().path("detail").asText()).isEqualTo(
                    "workflow 'api1' step 2 (ffmpeg_hls): segment_seconds: expected a whole number from 1 to 60, got \"soon\"");

            String good = """
                    {"steps": [{"type": "rtmp_receive", "app": "a1"}, {"type": "rtmp_watch", "app": "a1watch"}]}""";
            MediaTools.Reply created = http("PUT", http, "/api/workflows/api1", good);
            assertThat(created.status()).isEqualTo(201);
            assertThat(created.json().path("state").asText()).isEqualTo("active");
            assertThat(created.json().path("steps").get(1).path("state").asText()).isEqualTo("active");
            assertThat(workflowEvent(ws, "workflow.started", "api1")).isNotNull();

            assertThat(http("PUT", http, "/api/workflows/api1", good).status()).as("same definition: unchanged").isEqualTo(200);
            MediaTools.Reply updated = http("PUT", http, "/api/workflows/api1", """
                    {"steps": [{"type": "rtmp_receive", "app": "a2"}]}""");
            assertThat(updated.json().path("steps").get(0).path("params").path("app").asText()).isEqualTo("a2");
            assertThat(workflowEvent(ws, "workflow.started", "api1").path("event").path("detail").asText()).contains("restarted");

            JsonNode names = get(http, "/api/workflows").json().path("workflows");
            assertThat(names.findValuesAsText("name")).contains("api1", "live", "small", "second");

            assertThat(http("DELETE", http, "/api/workflows/api1", null).status()).isEqualTo(204);
            assertThat(workflowEvent(ws, "workflow.stopped", "api1")).isNotNull();
            assertThat(get(http, "/api/workflows/api1").status()).isEqualTo(404);
            assertThat(http("DELETE", http, "/api/workflows/api1", null).status()).isEqualTo(404);
        }
    }

    /** The next event frame whose key is {@code key} and whose event's workflow is {@code workflow}, or null. */
    private static com.fasterxml.jackson.databind.JsonNode workflowEvent(Clients.Ws ws, String key, String workflow)
            throws InterruptedException {
        return ws.next("event", f -> key.equals(f.path("key").asText())
                && workflow.equals(f.path("event").path("workflow").asText()), 10);
    }
}
