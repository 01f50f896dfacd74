package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.testing.Tools;
import io.junction.server.Clients;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real clients for the live-video tests: ffmpeg publishing a generated stream, ffprobe reading RTMP and HLS, HTTP and
 * a WebSocket. Every reader has {@code -rw_timeout} and runs under {@code timeout -k}: an ffmpeg reader left on a
 * stream whose publisher stopped would otherwise never exit.
 */
final class MediaTools {

    private MediaTools() {
    }

    record Reply(int status, JsonNode json, String text) {
    }

    static Reply http(String method, int port, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(15));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = Clients.send(port, b, HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        try {
            json = r.body().isEmpty() ? null : Json.parse(r.body());
        } catch (IOException e) {
            json = null;
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    static Reply get(int port, String path) throws IOException, InterruptedException {
        return http("GET", port, path, null);
    }

    /** ffmpeg publishing a 320x240, 15 fps test picture with a sine tone (H.264 + AAC) for {@code seconds}. */
    static Process publish(String url, int seconds, Path log) throws IOException {
        String ffmpeg = Tools.require("ffmpeg", "ffmpeg");
        Files.createDirectories(log.getParent());
        return new ProcessBuilder(List.of("timeout", "-k", "2", String.valueOf(seconds + 20), ffmpeg, "-hide_banner",
                "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", String.valueOf(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "64k", "-f", "flv", url))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    record Run(int exit, String output) {
    }

    static Run run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("timeout", "-k", "2", String.valueOf(timeoutSeconds)));
        full.addAll(cmd);
        Process p = new ProcessBuilder(full).redirectErrorStream(false).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds + 5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish");
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8) + err);
    }

    /**
     * ffprobe of a URL: streams with codec, size and (with {@code countFrames}) the frames read until the stream
     * ends. Returns the JSON, or fails with ffprobe's output.
     */
    static JsonNode probe(String url, boolean countFrames, int timeoutSeconds) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Tools.require("ffprobe", "ffmpeg"), "-v", "error", "-rw_timeout", "5000000"));
        if (countFrames) {
            cmd.add("-count_frames");
        }
        cmd.addAll(List.of("-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames", "-of", "json", url));
        Run r = run(cmd, timeoutSeconds);
        try {
            JsonNode json = Json.parse(r.output().substring(Math.max(0, r.output().indexOf('{'))));
            if (json.path("streams").isEmpty()) {
                throw new AssertionError("ffprobe found no streams in " + url + ": " + r.output());
            }
            return json;
        } catch (IOException e) {
            throw new AssertionError("ffprobe of " + url + " failed (exit " + r.exit() + "): " + r.output());
        }
    }

    static JsonNode stream(JsonNode probe, String codecType) {
        for (JsonNode s : probe.path("streams")) {
            if (codecType.equals(s.path("codec_type").asText())) {
                return s;
            }
        }
        throw new AssertionError("no " + codecType + " stream in " + probe);
    }

}
