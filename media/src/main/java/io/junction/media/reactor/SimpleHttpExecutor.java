package io.junction.media.reactor;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * mmids' {@code simple_http} reactor executor: POSTs the stream name as a plain-text body to a URL. {@code 404} means
 * the stream has no workflow; {@code 200} carries the workflow definitions; anything else (or no answer) may be
 * tried again: {@link #TRIES} tries in all, the second after {@link #delayBefore}(2), the third after twice that.
 * The workflow manager runs the tries and keeps the delays as timers; one {@link #attempt} blocks its caller (a
 * virtual thread) for at most the timeout.
 */
public final class SimpleHttpExecutor {

    /** Tries of one question before the executor gives up. */
    public static final int TRIES = 3;
    /** The largest answer read; a reactor's workflows are a few lines. */
    private static final int MAX_ANSWER = 1024 * 1024;

    private final URI url;
    private final Duration timeout;
    private final Duration retryDelay;
    private final HttpClient client;

    /** What the reactor service said to one try. */
    public sealed interface Answer {
    }

    /** {@code 200}: the body holds workflow definitions. */
    public record Found(String body) implements Answer {
    }

    /** {@code 404}: no workflow for this stream. */
    public record NotFound() implements Answer {
    }

    /** This try got no usable answer, and another try may: {@code reason} says what went wrong. */
    public record Unavailable(String reason) implements Answer {
    }

    /** No usable answer, and trying again would not help (or every try was used). */
    public record Failed(String reason) implements Answer {
    }

    /**
     * @param retryDelay the delay before the second try; the third waits twice as long
     */
    public SimpleHttpExecutor(URI url, Duration timeout, Duration retryDelay) {
        this.url = url;
        this.timeout = timeout;
        this.retryDelay = retryDelay;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** How long to wait before try number {@code attempt} (2 or more) of a question. */
    public Duration delayBefore(int attempt) {
        return retryDelay.multipliedBy(Math.max(0, attempt - 1));
    }

    /** One try: asks the service about {@code streamName}. */
    public Answer attempt(String streamName) throws InterruptedException {
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
            return new Unavailable("HTTP " + r.statusCode());
        } catch (IOException e) {
            return new Unavailable(e.toString());
        }
    }

    /** What a question comes to when its last try was {@link Unavailable}. */
    public static Failed gaveUp(Unavailable last) {
        return new Failed(TRIES + " tries failed, the last with " + last.reason());
    }
}
