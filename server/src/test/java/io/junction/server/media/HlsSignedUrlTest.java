package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.probe;
import static io.junction.server.media.MediaTools.publish;
import static io.junction.server.media.MediaTools.stream;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * HLS that must not be public: the workflow {@code private} is in {@code [hls] signed_workflows}, so its playlist and
 * segments answer only signed, unexpired URLs (HMAC-SHA256 with a key from the environment), and only pages of the
 * allowed origin get CORS. Real ffmpeg publishes; ffprobe and headless Chromium with hls.js play the signed URL.
 */
class HlsSignedUrlTest {

    static final String KEY = "test-hls-signing-key-0123456789abcdef";
    static final HttpClient ANONYMOUS = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dir;

    static HlsBrowser browser;
    static Junction node;
    static int http;
    static final List<Process> publishers = new java.util.ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        browser = HlsBrowser.start();
        Map<String, String> env = new HashMap<>(Clients.ENV);
        env.put("JUNCTION_TEST_HLS_KEY", KEY);
        node = Junction.start(Junction.configLoader(env).parse(dir.resolve("test.toml").toString(),
                Clients.baseToml(dir) + "fsync = \"never\"\n\n" + """
                        [rtmp]
                        port = 0
                        host = "127.0.0.1"

                        [hls]
                        allowed_origins = ["%s"]
                        signing_key_env = "JUNCTION_TEST_HLS_KEY"
                        signed_workflows = ["private"]
                        max_signed_seconds = 3600

                        [[workflows]]
                        name = "private"
                        steps = [
                          { type = "rtmp_receive", app = "private" },
                          { type = "ffmpeg_hls", segment_seconds = 1, segment_count = 6 },
                        ]

                        [[workflows]]
                        name = "public"
                        steps = [
                          { type = "rtmp_receive", app = "public" },
                          { type = "ffmpeg_hls", segment_seconds = 1 },
                        ]
                        """.formatted(browser.origin())));
        http = node.httpPort();
        int rtmp = get(http, "/api/media").json().path("rtmp").path("port").asInt();
        publishers.add(publish("rtmp://127.0.0.1:" + rtmp + "/private/cam1", 300, dir.resolve("publish-private.log")));
        publishers.add(publish("rtmp://127.0.0.1:" + rtmp + "/public/cam1", 300, dir.resolve("publish-public.log")));
        await().atMost(Duration.ofSeconds(30)).until(() -> signedGet(sign("/hls/private/cam1/index.m3u8", 60)).body().contains(".ts?")
                && anonymous("/hls/public/cam1/index.m3u8", Map.of()).body().contains(".ts"));
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : publishers) {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        if (browser != null) {
            browser.close();
        }
        if (node != null) {
            node.close();
        }
    }

    /** {@code GET /api/hls/sign} as the admin: the signed path and query. */
    static String sign(String path, long ttl) throws IOException, InterruptedException {
        MediaTools.Reply r = get(http, "/api/hls/sign?path=" + URLEncoder.encode(path, StandardCharsets.UTF_8) + "&ttl=" + ttl);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json().path("url").asText();
    }

    static HttpResponse<String> anonymous(String pathAndQuery, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + pathAndQuery)).timeout(Duration.ofSeconds(10));
        headers.forEach(b::header);
        return ANONYMOUS.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> signedGet(String url) throws IOException, InterruptedException {
        return anonymous(url, Map.of());
    }

    static void assertForbidden(HttpResponse<String> r, String detail) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
        JsonNode json = Json.parse(r.body());
        assertThat(json.path("error").asText()).isEqualTo("forbidden");
        assertThat(json.path("detail").asText()).contains(detail);
    }

    /** The signature as docs/media.md computes it in a shell, with openssl. */
    static String shellSignature(String scope, long expires) throws Exception {
        Tools.require("openssl", "openssl");
        MediaTools.Run r = MediaTools.run(List.of("bash", "-c",
                "printf '%s\\n%s' \"$1\" \"$2\" | openssl dgst -sha256 -hmac \"$3\" -binary | basenc --base64url | tr -d '='",
                "sign", Long.toString(expires), scope, KEY), 10);
        assertThat(r.exit()).as(r.output()).isZero();
        return r.output().strip();
    }

    @Test
    void unsignedExpiredAndTamperedUrlsAreRefusedWith403() throws Exception {
        assertForbidden(anonymous("/hls/private/cam1/index.m3u8", Map.of()), "needs a signed URL");
        assertForbidden(anonymous("/hls/private/cam1/segment-00001.ts", Map.of()), "needs a signed URL");
        assertForbidden(anonymous(Clients.withToken(http, "/hls/private/cam1/index.m3u8"), Map.of()), "needs a signed URL");

        String good = sign("/hls/private/cam1/index.m3u8", 600);
        String query = good.substring(good.indexOf('?') + 1);
        long expires = Long.parseLong(query.replaceAll(".*expires=([0-9]+).*", "$1"));
        String signature = query.replaceAll(".*signature=([^&]+).*", "$1");
        assertThat(shellSignature("/hls/private/cam1/", expires)).as("the documented recipe gives the server's signature").isEqualTo(signature);

        char last = signature.charAt(signature.length() - 2);
        String tampered = signature.substring(0, signature.length() - 2) + (last == 'A' ? 'B' : 'A') + signature.charAt(signature.length() - 1);
        assertForbidden(signedGet("/hls/private/cam1/index.m3u8?expires=" + expires + "&signature=" + tampered), "does not match");
        assertForbidden(signedGet("/hls/private/cam1/index.m3u8?expires=" + (expires + 3600) + "&signature=" + signature), "does not match");
        assertForbidden(signedGet("/hls/private/cam2/index.m3u8?" + query), "does not match");
        assertForbidden(signedGet("/hls/private/cam1/index.m3u8?expires=soon&signature=" + signature), "seconds since the epoch");

        long past = System.currentTimeMillis() / 1000 - 10;
        assertForbidden(signedGet("/hls/private/cam1/index.m3u8?expires=" + past + "&signature=" + shellSignature("/hls/private/cam1/", past)),
                "expired");

        assertThat(anonymous("/hls/public/cam1/index.m3u8", Map.of()).statusCode()).as("a workflow not listed stays public").isEqualTo(200);
    }

    @Test
    void aSignedUrlServesAPlaylistWhoseSegmentsCarryTheSignatureAndFfprobeReadsIt() throws Exception {
        String url = sign("/hls/private/cam1/index.m3u8", 600);
        String query = url.substring(url.indexOf('?') + 1);
        HttpResponse<String> playlist = signedGet(url);
        assertThat(playlist.statusCode()).isEqualTo(200);
        assertThat(playlist.headers().firstValue("Content-Type")).hasValue("application/vnd.apple.mpegurl");
        assertThat(playlist.headers().firstValue("Cache-Control")).hasValue("private, no-cache");
        List<String> segments = playlist.body().lines().filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
        assertThat(segments).isNotEmpty().allSatisfy(s -> assertThat(s).matches("segment-[0-9]+\\.ts\\?" + java.util.regex.Pattern.quote(query)));

        HttpResponse<byte[]> ts = ANONYMOUS.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/hls/private/cam1/" + segments.getLast()))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(ts.statusCode()).isEqualTo(200);
        assertThat(ts.headers().firstValue("Content-Type")).hasValue("video/mp2t");
        assertThat(ts.body()[0]).isEqualTo((byte) 0x47);

        JsonNode probe = probe("http://127.0.0.1:" + http + url, false, 30);
        assertThat(stream(probe, "video").path("codec_name").asText()).isEqualTo("h264");
        assertThat(stream(probe, "video").path("width").asInt()).isEqualTo(320);
        assertThat(stream(probe, "audio").path("codec_name").asText()).isEqualTo("aac");
    }

    @Test
    void hlsJsPlaysASignedUrlFromAnAllowedOrigin() {
        String url;
        try {
            url = "http://127.0.0.1:" + http + sign("/hls/private/cam1/index.m3u8", 600);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
        browser.play(url);
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
            String fatal = browser.fatalError();
            if (fatal != null) {
                throw new AssertionError("hls.js stopped with " + fatal + "; its errors: " + browser.errors());
            }
            return browser.currentTime() > 1;
        });
    }

    @Test
    void onlyTheAllowedOriginGetsCors() throws Exception {
        String url = sign("/hls/private/cam1/index.m3u8", 600);
        HttpResponse<String> allowed = anonymous(url, Map.of("Origin", browser.origin()));
        assertThat(allowed.headers().firstValue("Access-Control-Allow-Origin")).hasValue(browser.origin());
        assertThat(allowed.headers().firstValue("Vary")).hasValue("Origin");

        HttpResponse<String> other = anonymous(url, Map.of("Origin", "http://elsewhere.example"));
        assertThat(other.statusCode()).isEqualTo(200);
        assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).as("a browser will not hand it to that page").isEmpty();

        HttpResponse<String> preflight = ANONYMOUS.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + url))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", "http://elsewhere.example")
                .header("Access-Control-Request-Method", "GET").timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertForbidden(preflight, "[hls] allowed_origins");
    }

    @Test
    void theSignRouteNeedsAUserAndAValidPath() throws Exception {
        assertThat(anonymous("/api/hls/sign?path=/hls/private/cam1/index.m3u8", Map.of()).statusCode()).isEqualTo(401);
        MediaTools.Reply bad = get(http, "/api/hls/sign?path=/etc/passwd");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().path("detail").asText()).contains("/hls/live/cam1/index.m3u8");
        assertThat(get(http, "/api/hls/sign?path=/hls/private/cam1/index.m3u8&ttl=7200").status())
                .as("longer than max_signed_seconds").isEqualTo(400);
        MediaTools.Reply folder = get(http, "/api/hls/sign?path=/hls/private/cam1/");
        assertThat(folder.status()).isEqualTo(200);
        assertThat(folder.json().path("scope").asText()).isEqualTo("/hls/private/cam1/");
        assertThat(folder.json().path("signed").asBoolean()).isTrue();
    }
}
