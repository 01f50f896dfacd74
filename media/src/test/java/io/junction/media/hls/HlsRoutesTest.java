package io.junction.media.hls;

import io.junction.core.Json;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The HLS routes on a route table, with files written as ffmpeg writes them and a fixed clock. */
class HlsRoutesTest {

    static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
    static final HlsSettings SIGNED = new HlsSettings(List.of("https://player.example"),
            Optional.of("0123456789abcdef0123456789abcdef"), List.of("private"), 3600);

    @TempDir
    Path root;

    @BeforeEach
    void files() throws Exception {
        for (String workflow : List.of("private", "public")) {
            Path dir = Files.createDirectories(root.resolve(workflow).resolve("cam1"));
            Files.writeString(dir.resolve("index.m3u8"), """
                    #EXTM3U
                    #EXT-X-VERSION:7
                    #EXT-X-TARGETDURATION:1
                    #EXT-X-MAP:URI="init.mp4"
                    #EXTINF:1.000000,
                    segment-00001.ts
                    #EXTINF:1.000000,
                    /hls/elsewhere/x.ts
                    """);
            Files.write(dir.resolve("segment-00001.ts"), new byte[]{0x47, 1, 2});
        }
    }

    static RouteTable routes(Path root, HlsSettings settings, Instant now) {
        RouteTable t = new RouteTable();
        HlsRoutes.register(t, root, settings, Clock.fixed(now, ZoneOffset.UTC));
        return t;
    }

    static ApiResponse call(RouteTable t, String method, String path, Map<String, String> query, Map<String, String> headers) throws Exception {
        RouteTable.Found f = (RouteTable.Found) t.lookup(method, path);
        Map<String, List<String>> q = new LinkedHashMap<>();
        query.forEach((k, v) -> q.put(k, List.of(v)));
        Map<String, List<String>> h = new LinkedHashMap<>();
        headers.forEach((k, v) -> h.put(k.toLowerCase(), List.of(v)));
        try {
            return f.handler().handle(new ApiRequest(f.method(), path, f.pathParams(), q, h, new byte[0]));
        } catch (ApiException e) {
            return e.toResponse();
        }
    }

    static Map<String, String> signedQuery(RouteTable t, String path, long ttl) throws Exception {
        JsonNode json = Json.parse(call(t, "GET", "/api/hls/sign", Map.of("path", path, "ttl", Long.toString(ttl)), Map.of()).bodyText());
        return Map.of("expires", json.path("expires").asText(), "signature", json.path("query").asText().replaceAll(".*signature=", ""));
    }

    @Test
    void aSignedPlaylistHandsItsQueryToEveryRelativeUri() throws Exception {
        RouteTable t = routes(root, SIGNED, NOW);
        Map<String, String> q = signedQuery(t, "/hls/private/cam1/index.m3u8", 600);
        assertThat(q.get("expires")).isEqualTo(Long.toString(NOW.getEpochSecond() + 600));
        ApiResponse r = call(t, "GET", "/hls/private/cam1/index.m3u8", q, Map.of("Origin", "https://player.example"));
        assertThat(r.status()).isEqualTo(200);
        String query = "expires=" + q.get("expires") + "&signature=" + q.get("signature");
        assertThat(r.bodyText()).contains("#EXT-X-MAP:URI=\"init.mp4?" + query + "\"")
                .contains("\nsegment-00001.ts?" + query + "\n")
                .contains("\n/hls/elsewhere/x.ts\n");
        assertThat(r.headers()).containsEntry("Access-Control-Allow-Origin", "https://player.example").containsEntry("Vary", "Origin");

        ApiResponse segment = call(t, "GET", "/hls/private/cam1/segment-00001.ts", q, Map.of());
        assertThat(segment.status()).isEqualTo(200);
        assertThat(segment.contentType()).isEqualTo("video/mp2t");
        assertThat(segment.headers()).containsEntry("Cache-Control", "private, max-age=60");

        ApiResponse open = call(t, "GET", "/hls/public/cam1/index.m3u8", Map.of(), Map.of());
        assertThat(open.status()).isEqualTo(200);
        assertThat(open.bodyText()).as("an unsigned playlist is served as written").contains("\nsegment-00001.ts\n");
    }

    @Test
    void aSignatureStopsWorkingWhenItExpires() throws Exception {
        Map<String, String> q = signedQuery(routes(root, SIGNED, NOW), "/hls/private/cam1/", 600);
        assertThat(call(routes(root, SIGNED, NOW.plusSeconds(600)), "GET", "/hls/private/cam1/segment-00001.ts", q, Map.of()).status())
                .isEqualTo(200);
        ApiResponse later = call(routes(root, SIGNED, NOW.plusSeconds(601)), "GET", "/hls/private/cam1/segment-00001.ts", q,
                Map.of("Origin", "https://player.example"));
        assertThat(later.status()).isEqualTo(403);
        assertThat(later.bodyText()).contains("\"error\":\"forbidden\"").contains("expired at 2026-01-01T00:10:00Z");
        assertThat(later.headers()).as("the player can read why").containsEntry("Access-Control-Allow-Origin", "https://player.example");
    }

    @Test
    void aKeyOfAnotherServerDoesNotSign() throws Exception {
        HlsSettings other = new HlsSettings(List.of("*"), Optional.of("another-key-of-at-least-16-bytes"), List.of("*"), 3600);
        Map<String, String> q = signedQuery(routes(root, other, NOW), "/hls/private/cam1/index.m3u8", 600);
        ApiResponse r = call(routes(root, SIGNED, NOW), "GET", "/hls/private/cam1/index.m3u8", q, Map.of());
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.bodyText()).contains("does not match");
    }

    @Test
    void preflightsAreOpenAndSayWhatMayBeSent() throws Exception {
        RouteTable t = routes(root, HlsSettings.defaults(), NOW);
        assertThat(((RouteTable.Found) t.lookup("OPTIONS", "/hls/public/cam1/index.m3u8")).access())
                .isEqualTo(io.junction.core.http.Access.OPEN);
        ApiResponse r = call(t, "OPTIONS", "/hls/public/cam1/index.m3u8", Map.of(), Map.of("Origin", "https://any.example"));
        assertThat(r.status()).isEqualTo(204);
        assertThat(r.headers()).containsEntry("Access-Control-Allow-Origin", "*")
                .containsEntry("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
                .containsKey("Access-Control-Allow-Headers");
        assertThat(t.lookup("POST", "/hls/public/cam1/index.m3u8"))
                .isEqualTo(new RouteTable.MethodNotAllowed(java.util.Set.of(Method.GET, Method.OPTIONS)));
    }

    @Test
    void signingIsRefusedWhenNoKeyIsConfigured() throws Exception {
        ApiResponse r = call(routes(root, HlsSettings.defaults(), NOW), "GET", "/api/hls/sign",
                Map.of("path", "/hls/public/cam1/index.m3u8"), Map.of());
        assertThat(r.status()).isEqualTo(409);
        assertThat(r.bodyText()).contains("signing_key_env");
    }

    @Test
    void playlistRewritingLeavesAbsoluteUrisAndCommentsAlone() {
        String out = HlsRoutes.withQuery("#EXTM3U\n#EXTINF:1,\nhttps://cdn.example/a.ts\nb.ts?x=1\n\n", "s=1");
        assertThat(out).isEqualTo("#EXTM3U\n#EXTINF:1,\nhttps://cdn.example/a.ts\nb.ts?x=1&s=1\n\n");
        assertThat(HlsRoutes.withQuery("a.ts", "s=1")).isEqualTo("a.ts?s=1");
    }
}
