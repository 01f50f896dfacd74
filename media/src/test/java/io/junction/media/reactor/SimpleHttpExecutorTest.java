package io.junction.media.reactor;

import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** mmids' simple_http contract against a real HTTP server; the tries themselves are the workflow manager's ({@code ReactorTest}). */
class SimpleHttpExecutorTest {

    private HttpServer server;
    private final List<String> bodies = new CopyOnWriteArrayList<>();

    private URI serve(int... statuses) throws Exception {
        AtomicInteger call = new AtomicInteger();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/workflows", ex -> {
            bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8) + " " + ex.getRequestMethod()
                    + " " + ex.getRequestHeaders().getFirst("Content-Type"));
            int status = statuses[Math.min(call.getAndIncrement(), statuses.length - 1)];
            byte[] body = status == 200 ? "workflow w {\n rtmp_watch rtmp_app=a\n}".getBytes(StandardCharsets.UTF_8) : new byte[0];
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/workflows");
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void postsTheStreamNameAsPlainTextAndReturnsTheBodyOf200() throws Exception {
        SimpleHttpExecutor e = new SimpleHttpExecutor(serve(200), Duration.ofSeconds(2), Duration.ofMillis(10));
        assertThat(e.attempt("cam1")).isEqualTo(new SimpleHttpExecutor.Found("workflow w {\n rtmp_watch rtmp_app=a\n}"));
        assertThat(bodies).containsExactly("cam1 POST text/plain; charset=utf-8");
    }

    @Test
    void notFoundIsAnAnswerAndOtherStatusesMayBeTriedAgain() throws Exception {
        SimpleHttpExecutor e = new SimpleHttpExecutor(serve(404, 503), Duration.ofSeconds(2), Duration.ofMillis(10));
        assertThat(e.attempt("cam1")).isInstanceOf(SimpleHttpExecutor.NotFound.class);
        assertThat(e.attempt("cam1")).isEqualTo(new SimpleHttpExecutor.Unavailable("HTTP 503"));
        assertThat(bodies).hasSize(2);
    }

    @Test
    void theSecondTryWaitsTheRetryDelayAndTheThirdTwiceAsLong() {
        SimpleHttpExecutor e = new SimpleHttpExecutor(URI.create("http://127.0.0.1:9/"), Duration.ofSeconds(2), Duration.ofMillis(10));
        assertThat(e.delayBefore(2)).isEqualTo(Duration.ofMillis(10));
        assertThat(e.delayBefore(3)).isEqualTo(Duration.ofMillis(20));
        assertThat(SimpleHttpExecutor.TRIES).isEqualTo(3);
        assertThat(SimpleHttpExecutor.gaveUp(new SimpleHttpExecutor.Unavailable("HTTP 500")).reason())
                .contains("3 tries failed").contains("HTTP 500");
    }
}
