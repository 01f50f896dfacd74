package io.junction.server.media;

import io.junction.core.config.JunctionConfig;
import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.publish;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * HLS played by a browser from a page on another origin: real ffmpeg publishes to a workflow with an
 * {@code ffmpeg_hls} step, and headless Chromium runs hls.js on a page served from another port, which needs CORS on
 * {@code /hls} (and preflights answered) to fetch the playlist and the segments.
 */
class HlsBrowserTest {

    /** A client without a token, as a browser's player is. */
    static final HttpClient ANONYMOUS = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dir;

    static Junction node;
    static int http;
    static int rtmp;
    static Process publisher;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        JunctionConfig config = Clients.config(dir, "never", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [[workflows]]
                name = "web"
                steps = [
                  { type = "rtmp_receive", app = "web", stream_key = "*" },
                  { type = "ffmpeg_hls", segment_seconds = 1, segment_count = 6 },
                ]
                """);
        node = Junction.start(config);
        http = node.httpPort();
        rtmp = get(http, "/api/media").json().path("rtmp").path("port").asInt();
        publisher = publish("rtmp://127.0.0.1:" + rtmp + "/web/cam1", 300, dir.resolve("publish-cam1.log"));
        await().atMost(Duration.ofSeconds(30))
                .until(() -> get(http, "/hls/web/cam1/index.m3u8").text().split("\\.ts", -1).length > 3);
    }

    @AfterAll
    static void stop() throws Exception {
        if (publisher != null) {
            publisher.destroy();
            if (!publisher.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                publisher.destroyForcibly();
            }
        }
        if (node != null) {
            node.close();
        }
    }

    private static String hls(String file) {
        return "http://127.0.0.1:" + http + "/hls/web/cam1/" + file;
    }

    @Test
    void hlsJsOnAPageOfAnotherOriginPlaysTheStream() throws Exception {
        try (HlsBrowser browser = HlsBrowser.start()) {
            assertThat(browser.origin()).isNotEqualTo("http://127.0.0.1:" + http);
            browser.play(hls("index.m3u8"));
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
                String fatal = browser.fatalError();
                if (fatal != null) {
                    throw new AssertionError("hls.js stopped with " + fatal + "; its errors: " + browser.errors());
                }
                return browser.currentTime() > 1;
            });
        }
    }

    @Test
    void aPreflightIsAnsweredWithoutATokenWithWhatMayBeSent() throws Exception {
        HttpResponse<String> r = ANONYMOUS.send(HttpRequest.newBuilder(URI.create(hls("index.m3u8")))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "http://player.example")
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "range")
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(204);
        assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
        assertThat(r.headers().firstValue("Access-Control-Allow-Methods")).hasValue("GET, HEAD, OPTIONS");
        assertThat(r.headers().firstValue("Access-Control-Allow-Headers").orElse("").toLowerCase()).contains("range");
        assertThat(r.headers().firstValue("Access-Control-Max-Age")).isPresent();
    }

    @Test
    void playlistAndSegmentsCarryCorsTheirTypesAndCaching() throws Exception {
        HttpResponse<String> playlist = ANONYMOUS.send(HttpRequest.newBuilder(URI.create(hls("index.m3u8")))
                .header("Origin", "http://player.example").timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(playlist.statusCode()).isEqualTo(200);
        assertThat(playlist.headers().firstValue("Content-Type")).hasValue("application/vnd.apple.mpegurl");
        assertThat(playlist.headers().firstValue("Cache-Control")).hasValue("no-cache");
        assertThat(playlist.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
        assertThat(playlist.headers().firstValue("Access-Control-Expose-Headers").orElse(""))
                .contains("Content-Length").contains("Content-Range");
        String segment = playlist.body().lines().filter(l -> l.endsWith(".ts")).reduce((a, b) -> b).orElseThrow();

        HttpResponse<byte[]> ts = ANONYMOUS.send(HttpRequest.newBuilder(URI.create(hls(segment)))
                .header("Origin", "http://player.example").timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(ts.statusCode()).isEqualTo(200);
        assertThat(ts.headers().firstValue("Content-Type")).hasValue("video/mp2t");
        assertThat(ts.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
        assertThat(ts.body()[0]).as("an MPEG-TS packet starts with the sync byte").isEqualTo((byte) 0x47);

        HttpResponse<Void> head = ANONYMOUS.send(HttpRequest.newBuilder(URI.create(hls(segment)))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Type")).hasValue("video/mp2t");
        assertThat(head.headers().firstValueAsLong("Content-Length")).hasValue((long) ts.body().length);

        HttpResponse<String> missing = ANONYMOUS.send(HttpRequest.newBuilder(URI.create(hls("segment-99999.ts")))
                .header("Origin", "http://player.example").timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("Access-Control-Allow-Origin"))
                .as("an error a player can read, not an opaque network failure").hasValue("*");
    }
}
