package io.junction.media.reactor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * mmids' {@code simple_http} reactor executor: POSTs the stream name as a plain-text body to a URL. {@code 404} means
 * the stream has no workflow; {@code 200} carries the workflow definitions; anything else (or no answer) is tried
 * again, three tries in all with a growing delay, before the executor gives up. Blocks its caller: run it on a
 * virtual thread.
 */
public final class SimpleHttpExecutor {

    private static final Logger log = LoggerFactory.getLogger(SimpleHttpExecutor.class);
    static final int TRIES = 3;
    /** The largest answer read; a reactor's workflows are a few lines. */
    private static final int MAX_ANSWER = 1024 * 1024;

    private final String reactor;
    private final URI url;
    private final Duration timeout;
    private final Duration retryDelay;
    private final HttpClient client;

    /** What the reactor service said. */
    public sealed interface Answer {
    }

    /** {@code 200}: the body holds workflow definitions. */
    public record Found(String body) implements Answer {
    }

    /** {@code 404}: no workflow for this stream. */
    public record NotFound() implements Answer {
    }

    /** No usable answer after every try. */
    public record Failed(String reason) implements Answer {
    }

    /**
     * @param retryDelay the delay before the second try; the third waits twice as long
     */
    public SimpleHttpExecutor(String reactor, URI url, Duration timeout, Duration retryDelay) {
        this.reactor = reactor;
        this.url = url;
        this.timeout = timeout;
        this.retryDelay = retryDelay;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    public Answer ask(String streamName) throws InterruptedException {
        String last = "";
        for (int attempt = 1; attempt <= TRIES; attempt++) {
            if (attempt > 1) {
                Thread.sleep(retryDelay.toMillis() * (attempt - 1));
                log.info("reactor={} stream={} retry={} after: {}", reactor, streamName, attempt - 1, last);
            }
            try {
                HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(url).timeout(timeout)
                        .header("Content-Type", "text/plain; charset=utf-8")
                        .POST(HttpRequest.BodyPublishers.ofString(streamName, StandardCharsets.UTF_8)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() == 404) {
                    return new NotFound();
                }
                if (r.statusCode() == 200) {
                    if (r.body().length > MAX_ANSWER) {
                        return new Failed("the answer is larger than " + MAX_ANSWER + " bytes");
                    }
                    return new Found(new String(r.body(), StandardCharsets.UTF_8));
                }
                last = "HTTP " + r.statusCode();
            } catch (IOException e) {
                last = e.toString();
            }
        }
        return new Failed(TRIES + " tries failed, the last with " + last);
    }
}
