package io.junction.media.hls;

import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Handler;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Serves what {@code ffmpeg_hls} steps write: {@code GET /hls/{workflow}/{stream}/{file}}, where the file is the
 * playlist ({@code index.m3u8}) or a segment ({@code segment-00001.ts}). Only plain names reach the file system.
 * Pages of other origins may play it (CORS, with preflights answered) as {@code [hls] allowed_origins} says, and the
 * workflows of {@code [hls] signed_workflows} answer only signed, unexpired URLs ({@link HlsSigner}); their playlists
 * are rewritten so that every segment URI carries the same signature.
 */
public final class HlsRoutes {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern FILE = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}\\.(m3u8|ts|m4s|mp4)");
    /** A path {@code GET /api/hls/sign} signs: a stream's folder, or a file in it. */
    private static final Pattern SIGNABLE = Pattern.compile("/hls/([^/]+)/([^/]+)/([^/]*)");
    /** A {@code URI="..."} attribute of a playlist tag ({@code #EXT-X-MAP}, {@code #EXT-X-MEDIA}, ...). */
    private static final Pattern URI_ATTRIBUTE = Pattern.compile("URI=\"([^\"]*)\"");

    /** What a preflight may ask to send: what players and browsers add to a media GET. */
    static final String ALLOWED_HEADERS = "Range, Accept, Accept-Language, Cache-Control, If-Modified-Since, If-None-Match";

    private final Path root;
    private final HlsSettings settings;
    private final Optional<HlsSigner> signer;
    private final Clock clock;

    private HlsRoutes(Path root, HlsSettings settings, Clock clock) {
        this.root = root;
        this.settings = settings;
        this.signer = settings.signingKey().map(HlsSigner::new);
        this.clock = clock;
    }

    /** The folder the HLS steps write to, under the data directory. */
    public static Path root(Path dataDir) {
        return dataDir.resolve("media").resolve("hls");
    }

    /** The routes with the defaults: any origin, nothing signed. */
    public static void register(RouteTable routes, Path root) {
        register(routes, root, HlsSettings.defaults(), Clock.systemUTC());
    }

    public static void register(RouteTable routes, Path root, HlsSettings settings, Clock clock) {
        HlsRoutes hls = new HlsRoutes(root, settings, clock);
        // Open: players fetch segments by relative URLs and cannot send a token; signed URLs protect what must not be public.
        routes.add(Method.GET, "/hls/{workflow}/{stream}/{file}", Access.OPEN,
                "an HLS playlist or segment; CORS for `[hls] allowed_origins`; only signed URLs for `[hls] signed_workflows` (`403` otherwise)",
                hls.withCors(hls::file));
        routes.add(Method.OPTIONS, "/hls/{workflow}/{stream}/{file}", Access.OPEN,
                "the CORS preflight of an HLS file: `204` with what a page of an allowed origin may send, `403` for another origin",
                hls::preflight);
        routes.add(Method.GET, "/api/hls/sign", Access.USER,
                "a signed, expiring URL of a stream's HLS (`?path=/hls/{workflow}/{stream}/index.m3u8&ttl=`); `409` without `[hls]` key",
                hls::sign);
    }

    private ApiResponse file(ApiRequest r) {
        String workflow = r.pathParam("workflow");
        String stream = r.pathParam("stream");
        String file = r.pathParam("file");
        if (!NAME.matcher(workflow).matches() || !NAME.matcher(stream).matches() || !FILE.matcher(file).matches()) {
            throw ApiException.notFound("no HLS file " + workflow + "/" + stream + "/" + file
                    + ": names are letters, digits, '_', '.', '-' and files end in .m3u8, .ts, .m4s or .mp4");
        }
        Optional<String> signedQuery = settings.signed(workflow) ? Optional.of(checkSignature(r, workflow, stream)) : Optional.empty();
        Path path = root.resolve(workflow).resolve(stream).resolve(file);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw ApiException.notFound("no HLS file " + workflow + "/" + stream + "/" + file
                    + (file.endsWith(".m3u8") ? ": the stream is not live in that workflow, or its first segment is not written yet" : ""));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + path + ": " + e.getMessage(), e);
        }
        boolean playlist = file.endsWith(".m3u8");
        if (playlist && signedQuery.isPresent()) {
            bytes = withQuery(new String(bytes, StandardCharsets.UTF_8), signedQuery.get()).getBytes(StandardCharsets.UTF_8);
        }
        // A signed answer is the caller's alone: shared caches must not hand it to others.
        String scope = signedQuery.isPresent() ? "private, " : "";
        return new ApiResponse(200, contentType(file), bytes,
                Map.of("Cache-Control", scope + (playlist ? "no-cache" : "max-age=60")));
    }

    private static String contentType(String file) {
        if (file.endsWith(".m3u8")) {
            return "application/vnd.apple.mpegurl";
        }
        if (file.endsWith(".ts")) {
            return "video/mp2t";
        }
        return file.endsWith(".m4s") ? "video/iso.segment" : "video/mp4";
    }

    /**
     * Checks the request's {@code expires} and {@code signature} against the stream's folder; returns the query to
     * hand on to the playlist's URIs, or throws 403 saying what is wrong.
     */
    private String checkSignature(ApiRequest r, String workflow, String stream) {
        String scope = HlsSigner.scope(workflow, stream);
        Optional<String> expiresText = r.query("expires");
        Optional<String> signature = r.query("signature");
        if (expiresText.isEmpty() || signature.isEmpty()) {
            throw forbidden("the HLS of workflow '" + workflow + "' needs a signed URL (?expires=...&signature=...): "
                    + "ask GET /api/hls/sign?path=" + scope + "index.m3u8 with a token, or sign it as docs/media.md shows");
        }
        long expires;
        try {
            expires = Long.parseLong(expiresText.get());
        } catch (NumberFormatException e) {
            throw forbidden("expires must be seconds since the epoch, got \"" + expiresText.get() + "\"");
        }
        if (!signer.orElseThrow().verify(scope, expires, signature.get())) {
            throw forbidden("the signature does not match " + scope + " and expires=" + expires
                    + ": it was made for another stream or expiry, or with another key");
        }
        long now = clock.instant().getEpochSecond();
        if (now > expires) {
            throw forbidden("the signed URL expired at " + Instant.ofEpochSecond(expires) + " (" + (now - expires)
                    + " s ago): ask for a new one");
        }
        return "expires=" + expires + "&signature=" + URLEncoder.encode(signature.get(), StandardCharsets.UTF_8);
    }

    private static ApiException forbidden(String detail) {
        return new ApiException(403, "forbidden", detail);
    }

    /** The playlist with {@code query} added to every relative URI (segments, {@code URI="..."} attributes). */
    static String withQuery(String playlist, String query) {
        StringBuilder out = new StringBuilder(playlist.length() + 256);
        for (String line : playlist.split("\n", -1)) {
            if (!out.isEmpty()) {
                out.append('\n');
            }
            String trimmed = line.strip();
            if (trimmed.isEmpty()) {
                out.append(line);
            } else if (trimmed.startsWith("#")) {
                Matcher m = URI_ATTRIBUTE.matcher(line);
                StringBuilder tag = new StringBuilder();
                while (m.find()) {
                    m.appendReplacement(tag, Matcher.quoteReplacement("URI=\"" + relativeWithQuery(m.group(1), query) + "\""));
                }
                m.appendTail(tag);
                out.append(tag);
            } else {
                out.append(relativeWithQuery(trimmed, query));
            }
        }
        return out.toString();
    }

    private static String relativeWithQuery(String uri, String query) {
        if (uri.isEmpty() || uri.startsWith("/") || uri.contains("://")) {
            return uri;
        }
        return uri + (uri.indexOf('?') >= 0 ? "&" : "?") + query;
    }

    /** A browser's CORS preflight: 204 with what may be sent, or 403 for an origin the config does not allow. */
    private ApiResponse preflight(ApiRequest r) {
        Optional<String> origin = r.header("Origin");
        Map<String, String> cors = cors(origin);
        if (!cors.containsKey("Access-Control-Allow-Origin")) {
            throw new ApiException(403, "forbidden", "pages of " + origin.orElse("an unnamed origin")
                    + " may not play HLS from this server: add the origin to [hls] allowed_origins", cors);
        }
        Map<String, String> headers = new LinkedHashMap<>(cors);
        headers.put("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        headers.put("Access-Control-Allow-Headers", ALLOWED_HEADERS);
        headers.put("Access-Control-Max-Age", "600");
        return ApiResponse.status(204).withHeaders(headers);
    }

    /** The route's answers, errors included, with the CORS headers the request's origin gets. */
    private Handler withCors(Handler handler) {
        return r -> {
            Map<String, String> cors = cors(r.header("Origin"));
            try {
                return handler.handle(r).withHeaders(cors);
            } catch (ApiException e) {
                // A player reads the status and the JSON of an error only when the error carries CORS headers too.
                Map<String, String> headers = new LinkedHashMap<>(e.headers());
                headers.putAll(cors);
                throw new ApiException(e.status(), e.error(), e.detail(), headers);
            }
        };
    }

    /** CORS headers for a request from {@code origin}: none when the origin is not allowed. */
    private Map<String, String> cors(Optional<String> origin) {
        Map<String, String> headers = new LinkedHashMap<>();
        if (settings.anyOrigin()) {
            headers.put("Access-Control-Allow-Origin", "*");
        } else {
            // The answer depends on the origin, so caches must keep one per origin.
            headers.put("Vary", "Origin");
            if (origin.isPresent() && settings.allowedOrigins().contains(origin.get())) {
                headers.put("Access-Control-Allow-Origin", origin.get());
            }
        }
        if (headers.containsKey("Access-Control-Allow-Origin")) {
            headers.put("Access-Control-Expose-Headers", "Content-Length, Content-Range");
        }
        return headers;
    }

    /**
     * {@code GET /api/hls/sign?path=/hls/{workflow}/{stream}/index.m3u8&ttl=seconds}: the signed URL (path and query)
     * of the stream's folder, valid for {@code ttl} seconds (3600 by default, at most {@code [hls] max_signed_seconds}).
     */
    private ApiResponse sign(ApiRequest r) {
        HlsSigner s = signer.orElseThrow(() -> new ApiException(409, "conflict",
                "signed HLS URLs are off: give [hls] signing_key_env (an environment variable holding the key) in the config"));
        String path = r.query("path").orElseThrow(() -> ApiException.badRequest(
                "give the path to sign, such as ?path=/hls/live/cam1/index.m3u8"));
        Matcher m = SIGNABLE.matcher(path);
        if (!m.matches() || !NAME.matcher(m.group(1)).matches() || !NAME.matcher(m.group(2)).matches()
                || !(m.group(3).isEmpty() || FILE.matcher(m.group(3)).matches())) {
            throw ApiException.badRequest("path must be an HLS path such as /hls/live/cam1/index.m3u8 (or the folder "
                    + "/hls/live/cam1/), with names of letters, digits, '_', '.' and '-'; got \"" + path + "\"");
        }
        long max = settings.maxSignedSeconds();
        long ttl = Math.min(3600, max);
        if (r.query("ttl").isPresent()) {
            try {
                ttl = Long.parseLong(r.query("ttl").get());
            } catch (NumberFormatException e) {
                ttl = -1;
            }
            if (ttl < 1 || ttl > max) {
                throw ApiException.badRequest("ttl must be whole seconds from 1 to " + max
                        + " ([hls] max_signed_seconds), got \"" + r.query("ttl").get() + "\"");
            }
        }
        String scope = HlsSigner.scope(m.group(1), m.group(2));
        long expires = clock.instant().getEpochSecond() + ttl;
        String query = "expires=" + expires + "&signature=" + s.sign(scope, expires);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("url", path + "?" + query);
        body.put("scope", scope);
        body.put("expires", expires);
        body.put("query", query);
        body.put("signed", settings.signed(m.group(1)));
        return ApiResponse.json(body);
    }
}
