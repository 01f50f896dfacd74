package io.junction.server.media;

import com.sun.net.httpserver.HttpServer;

import io.junction.core.testing.Tools;

import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * A web page on another origin than Junction's (its own port) that plays an HLS URL with hls.js (from the
 * {@code org.webjars.npm:hls.js} WebJar) in headless Chromium, driven by Selenium through Debian's
 * {@code chromium-driver}. It is what a browser player on someone's site does: hls.js fetches the playlist and the
 * segments with XHR across origins, so they need CORS.
 */
final class HlsBrowser implements AutoCloseable {

    private static final String PAGE = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>hls</title><script src="/hls.min.js"></script></head>
            <body><video id="v" muted autoplay playsinline></video>
            <script>
              window.hlsErrors = [];
              window.hlsFatal = null;
              const video = document.getElementById('v');
              const src = new URLSearchParams(location.search).get('src');
              if (!Hls.isSupported()) {
                window.hlsFatal = 'hls.js is not supported in this browser (no MediaSource)';
              } else {
                const hls = new Hls({ liveSyncDurationCount: 2 });
                hls.on(Hls.Events.ERROR, (event, data) => {
                  const text = data.type + ':' + data.details + (data.response ? ' (HTTP ' + data.response.code + ')' : '')
                      + (data.fatal ? ' fatal' : '');
                  window.hlsErrors.push(text);
                  if (data.fatal) { window.hlsFatal = text; }
                });
                hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(e => window.hlsErrors.push('play: ' + e)));
                hls.loadSource(src);
                hls.attachMedia(video);
              }
            </script></body></html>
            """;

    private final HttpServer pages;
    /** Chromium's TMPDIR and profile, removed on close (it leaves its singleton socket folder behind otherwise). */
    private Path scratch;
    private ChromeDriverService service;
    private ChromeDriver driver;

    private HlsBrowser(HttpServer pages) {
        this.pages = pages;
    }

    /**
     * Starts the page server on 127.0.0.1 and a port of its own; Chromium starts with the first {@link #play}. Stops
     * the test (skipped locally, failed under CI) when chromium or chromedriver is missing.
     */
    static HlsBrowser start() throws IOException {
        Tools.require("chromium", "chromium chromium-driver");
        Tools.require("chromedriver", "chromium chromium-driver");
        byte[] hlsJs = hlsJs();
        HttpServer pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        pages.createContext("/", ex -> {
            boolean script = ex.getRequestURI().getPath().equals("/hls.min.js");
            byte[] body = script ? hlsJs : PAGE.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", script ? "text/javascript" : "text/html; charset=utf-8");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        pages.start();
        return new HlsBrowser(pages);
    }

    /** The page's origin, such as {@code http://127.0.0.1:40123}: not Junction's. */
    String origin() {
        return "http://127.0.0.1:" + pages.getAddress().getPort();
    }

    /** Opens the page playing {@code m3u8} (an absolute URL on Junction's port). */
    void play(String m3u8) {
        if (driver == null) {
            String chromium = Tools.require("chromium", "chromium chromium-driver");
            String chromedriver = Tools.require("chromedriver", "chromium chromium-driver");
            try {
                scratch = Files.createTempDirectory("junction-chromium");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            ChromeOptions options = new ChromeOptions();
            options.setBinary(chromium);
            options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                    "--user-data-dir=" + scratch.resolve("profile"));
            service = new ChromeDriverService.Builder().usingDriverExecutable(new File(chromedriver))
                    .withEnvironment(Map.of("TMPDIR", scratch.toString())).usingAnyFreePort().build();
            driver = new ChromeDriver(service, options);
            driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(10));
            driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
        }
        driver.get(origin() + "/?src=" + URLEncoder.encode(m3u8, StandardCharsets.UTF_8));
    }

    /** The video's playback position in seconds. */
    double currentTime() {
        Object t = js().executeScript("return document.getElementById('v').currentTime;");
        return t instanceof Number n ? n.doubleValue() : 0;
    }

    /** hls.js' fatal error ({@code networkError:manifestLoadError fatal}, ...), or null while there is none. */
    String fatalError() {
        Object f = js().executeScript("return window.hlsFatal;");
        return f == null ? null : f.toString();
    }

    /** Every error hls.js reported so far, fatal or not. */
    List<String> errors() {
        Object e = js().executeScript("return window.hlsErrors || [];");
        return e instanceof List<?> list ? list.stream().map(String::valueOf).toList() : List.of();
    }

    private JavascriptExecutor js() {
        if (driver == null) {
            throw new IllegalStateException("play(url) first");
        }
        return driver;
    }

    /** Quits Chromium and chromedriver, then the page server; safe to call twice. */
    @Override
    public void close() {
        try {
            if (driver != null) {
                driver.quit();
            }
        } finally {
            driver = null;
            if (service != null) {
                service.stop();
                service = null;
            }
            pages.stop(0);
            deleteScratch();
        }
    }

    private void deleteScratch() {
        if (scratch == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(scratch)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // Nothing to do: the folder is under the system's temporary directory.
        }
        scratch = null;
    }

    /** hls.min.js from the WebJar on the test class path, whatever its version. */
    private static byte[] hlsJs() throws IOException {
        ClassLoader loader = HlsBrowser.class.getClassLoader();
        Properties pom = new Properties();
        try (InputStream in = loader.getResourceAsStream("META-INF/maven/org.webjars.npm/hls.js/pom.properties")) {
            if (in == null) {
                throw new IllegalStateException("the hls.js WebJar (org.webjars.npm:hls.js) is not on the test class path");
            }
            pom.load(in);
        }
        String path = "META-INF/resources/webjars/hls.js/" + pom.getProperty("version") + "/dist/hls.min.js";
        try (InputStream in = loader.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("the hls.js WebJar has no " + path);
            }
            return in.readAllBytes();
        }
    }
}
