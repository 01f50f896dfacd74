package io.junction.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

/** Small helpers: free ports, HTTP GETs (with or without a bearer token), sleeping, deleting a temp tree. */
final class Net {

    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .version(HttpClient.Version.HTTP_1_1)
            .build();

    private Net() {
    }

    static HttpClient http() {
        return HTTP;
    }

    /** A TCP port that was free a moment ago. */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free TCP port", e);
        }
    }

    /** {@code GET url} without a token (for the open routes: health, metrics, firmware images). */
    static HttpResponse<String> get(String url, Duration timeout) throws IOException {
        return send(HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET(), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code GET url} with {@code Authorization: Bearer <token>}: the response (status and body as text). */
    static HttpResponse<String> get(String url, Duration timeout, String token) throws IOException {
        return send(bearer(HttpRequest.newBuilder(URI.create(url)), token).timeout(timeout).GET(), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code GET url} with a token, as bytes (for large pages parsed by streaming). */
    static HttpResponse<byte[]> getBytes(String url, Duration timeout, String token) throws IOException {
        return send(bearer(HttpRequest.newBuilder(URI.create(url)), token).timeout(timeout).GET(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Adds {@code Authorization: Bearer <token>} (a token from {@link JunctionServer#token()}). */
    static HttpRequest.Builder bearer(HttpRequest.Builder request, String token) {
        return request.header("Authorization", "Bearer " + token);
    }

    private static <T> HttpResponse<T> send(HttpRequest.Builder request, HttpResponse.BodyHandler<T> body) throws IOException {
        try {
            return HTTP.send(request.build(), body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temp dir left behind is not worth failing a bench for
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
