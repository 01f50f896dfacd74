package io.junction.media.hls;

import io.junction.core.http.ApiException;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Serves what {@code ffmpeg_hls} steps write: {@code GET /hls/{workflow}/{stream}/{file}}, where the file is the
 * playlist ({@code index.m3u8}) or a segment ({@code segment-00001.ts}). Only plain names reach the file system.
 */
public final class HlsRoutes {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern FILE = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}\\.(m3u8|ts)");

    private HlsRoutes() {
    }

    /** The folder the HLS steps write to, under the data directory. */
    public static Path root(Path dataDir) {
        return dataDir.resolve("media").resolve("hls");
    }

    public static void register(RouteTable routes, Path root) {
        // Open: players fetch segments by relative URLs and cannot send a token.
        routes.add(Method.GET, "/hls/{workflow}/{stream}/{file}", io.junction.core.http.Access.OPEN, r -> {
            String workflow = r.pathParam("workflow");
            String stream = r.pathParam("stream");
            String file = r.pathParam("file");
            if (!NAME.matcher(workflow).matches() || !NAME.matcher(stream).matches() || !FILE.matcher(file).matches()) {
                throw ApiException.notFound("no HLS file " + workflow + "/" + stream + "/" + file
                        + ": names are letters, digits, '_', '.', '-' and files end in .m3u8 or .ts");
            }
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
            return new ApiResponse(200, playlist ? "application/vnd.apple.mpegurl" : "video/mp2t", bytes,
                    Map.of("Cache-Control", playlist ? "no-cache" : "max-age=60"));
        });
    }
}
