package io.junction.media.workflow;

import com.sun.net.httpserver.HttpServer;

import io.junction.media.MediaSettings;
import io.junction.core.RoutingPattern;
import io.junction.core.hub.EventHub;
import io.junction.core.hub.HubEvent;
import io.junction.core.testing.MutableClock;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.rtmp.MediaSink;
import io.junction.media.rtmp.RtmpGate;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Reactors against a real HTTP service: their retries and re-asks are timers of the workflow manager on the injected
 * clock, so moving the clock is what makes the next question go out.
 */
class ReactorTest {

    private static final Duration RETRY = Duration.ofSeconds(1);

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    private final EventHub hub = new EventHub(clock);
    private final List<String> asked = new CopyOnWriteArrayList<>();
    /** The injected clock's time of each question, as the service got it. */
    private final List<Instant> askedAt = new CopyOnWriteArrayList<>();
    /** The statuses of the next answers; the last one stays. */
    private final ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
    private volatile int lastStatus = 200;
    /** The body of a 200 answer, when a test gives one; otherwise one rtmp_watch workflow named after the stream. */
    private volatile String answer;
    /** The manager's publisher grace period (none unless a test sets it before {@link #start}). */
    private Duration grace = Duration.ZERO;
    private HttpServer server;
    private FfmpegEndpoint ffmpeg;
    private WorkflowManager manager;

    private void start(long updateIntervalSeconds, Integer... answers) throws Exception {
        statuses.addAll(List.of(answers));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/reactor", ex -> {
            String stream = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            askedAt.add(clock.instant());
            asked.add(stream);
            Integer next = statuses.poll();
            int status = next == null ? lastStatus : next;
            lastStatus = status;
            String text = answer != null ? answer : "workflow " + stream + "_flow {\n    rtmp_watch rtmp_app=dynwatch stream_key=*\n}\n";
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            if (status == 200) {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            } else {
                ex.sendResponseHeaders(status, -1);
            }
            ex.close();
        });
        server.start();
        ffmpeg = new FfmpegEndpoint(new MediaSettings.Ffmpeg("ffmpeg", 100, 1000), new SimpleMeterRegistry());
        manager = WorkflowManager.builder().ffmpeg(ffmpeg).hub(hub).hlsRoot(dir).clock(clock).reactorRetryDelay(RETRY)
                .publisherGrace(grace)
                .reactors(List.of(new MediaSettings.ReactorSpec("dyn", "http://127.0.0.1:" + server.getAddress().getPort() + "/reactor",
                        updateIntervalSeconds, "dyn", "*", 2_000, "test")))
                .start();
    }

    @AfterEach
    void stop() {
        if (manager != null) {
            manager.close();
            ffmpeg.close();
        }
        if (server != null) {
            server.stop(0);
        }
        hub.close();
    }

    /** Asserts that the service is not asked again while the clock stands still. */
    private void askedStays(int n) {
        await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(3)).until(() -> asked.size() == n);
    }

    /** Moves the clock on by {@code step} at a time until the service was asked {@code n} times. */
    private void advanceUntilAsked(int n, Duration step) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
            if (asked.size() >= n) {
                return true;
            }
            clock.advance(step);
            return false;
        });
        assertThat(asked).hasSize(n);
    }

    /** The clock's time between question {@code i} and the one before (1-based). */
    private Duration between(int i) {
        return Duration.between(askedAt.get(i - 2), askedAt.get(i - 1));
    }

    @Test
    void aReactorThatFailedIsAskedAgainAfterTheRetryDelayOfTheClockAndThenTwiceThat() throws Exception {
        start(0, 500, 503, 200);
        CompletableFuture<MediaSink> publish = manager.publish("dyn", "cam", "test", () -> { });
        await().atMost(Duration.ofSeconds(5)).until(() -> asked.size() == 1);
        askedStays(1);
        assertThat(publish).as("still waiting for the reactor").isNotDone();
        advanceUntilAsked(2, Duration.ofMillis(100));
        advanceUntilAsked(3, Duration.ofMillis(100));
        assertThat(between(2)).as("the retry delay").isGreaterThanOrEqualTo(RETRY);
        assertThat(between(3)).as("twice the retry delay").isGreaterThanOrEqualTo(RETRY.multipliedBy(2));

        assertThat(publish.get(5, TimeUnit.SECONDS)).isNotNull();
        Map<String, Object> flow = manager.get("cam_flow").get(5, TimeUnit.SECONDS).orElseThrow();
        assertThat(flow.get("source")).isEqualTo("reactor:dyn");
        assertThat(asked).containsOnly("cam");
    }

    @Test
    void aReactorThatNeverAnswersRefusesThePublishAfterThreeTries() throws Exception {
        start(0, 500);
        CompletableFuture<MediaSink> publish = manager.publish("dyn", "cam", "test", () -> { });
        advanceUntilAsked(3, Duration.ofMillis(100));
        assertThatThrownBy(() -> publish.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(RtmpGate.Refused.class).hasMessageContaining("3 tries failed").hasMessageContaining("HTTP 500");
        clock.advance(Duration.ofMinutes(1));
        askedStays(3);
        assertThat(manager.get("cam_flow").get(5, TimeUnit.SECONDS)).isEmpty();
    }

    @Test
    void theReactorIsAskedAgainEveryUpdateIntervalAndItsWorkflowGoesWhenItIsNoLongerReturned() throws Exception {
        start(60, 200, 200, 404);
        AtomicInteger closed = new AtomicInteger();
        assertThat(manager.publish("dyn", "cam", "test", closed::incrementAndGet).get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(manager.get("cam_flow").get(5, TimeUnit.SECONDS)).isPresent();
        askedStays(1);
        advanceUntilAsked(2, Duration.ofSeconds(5));
        assertThat(between(2)).as("the update interval").isGreaterThanOrEqualTo(Duration.ofSeconds(60));
        assertThat(manager.get("cam_flow").get(5, TimeUnit.SECONDS)).as("returned again: kept").isPresent();
        assertThat(closed).hasValue(0);

        advanceUntilAsked(3, Duration.ofSeconds(5));
        assertThat(between(3)).as("the update interval").isGreaterThanOrEqualTo(Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.get("cam_flow").get(5, TimeUnit.SECONDS).isEmpty());
        await().atMost(Duration.ofSeconds(5)).until(() -> closed.get() == 1);
        clock.advance(Duration.ofMinutes(5));
        askedStays(3);
        assertThat(closed).as("the endpoint is told once to end the publish").hasValue(1);
    }

    @Test
    void theEndOfThePublishRemovesTheReactorsWorkflowAndTheReAsks() throws Exception {
        start(60, 200);
        MediaSink sink = manager.publish("dyn", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS);
        sink.end();
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.get("cam_flow").get(5, TimeUnit.SECONDS).isEmpty());
        clock.advance(Duration.ofSeconds(120));
        askedStays(1);
        // The stream may be published again, and asks again.
        assertThat(manager.publish("dyn", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(asked).hasSize(2);
    }

    @Test
    void aReactorsWorkflowThatWouldCloseALoopIsRefusedAndTheRestOfItsAnswerApplies() throws Exception {
        start(0);
        manager.put(new WorkflowDefinition("api1", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.ForwardToWorkflow("back"))), "api").get(5, TimeUnit.SECONDS);
        answer = """
                workflow back {
                    forward_to_workflow target_workflow=api1
                }
                workflow fine {
                    rtmp_watch rtmp_app=dynwatch stream_key=*
                }
                """;
        assertThat(manager.publish("dyn", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(manager.get("fine").get(5, TimeUnit.SECONDS)).isPresent();
        assertThat(manager.get("back").get(5, TimeUnit.SECONDS)).as("refused: api1 forwards to it").isEmpty();

        // An answer with nothing but the loop refuses the publish, with the reason.
        answer = "workflow back {\n    forward_to_workflow target_workflow=api1\n}\n";
        assertThatThrownBy(() -> manager.publish("dyn", "cam2", "test", () -> { }).get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(RtmpGate.Refused.class)
                .hasMessageStartingWith("reactor 'dyn' returned a workflow that closes a loop: workflow 'back' forwards to 'api1', which forwards back to 'back'");
    }

    @Test
    void aReactorsWorkflowsWaitThePublisherGraceForAReconnectWhichTakesThemOverAsTheyAre() throws Exception {
        grace = Duration.ofSeconds(10);
        start(0);
        List<HubEvent> events = new CopyOnWriteArrayList<>();
        hub.subscribe(RoutingPattern.of("workflow.#"), 100, events::add);
        MediaSink first = manager.publish("dyn", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> count(events, "started") == 1);
        first.end();

        // The publisher comes back within the grace: the reactor is asked again and its workflow goes on, unrestarted.
        clock.advance(Duration.ofSeconds(5));
        MediaSink second = manager.publish("dyn", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS);
        assertThat(asked).containsExactly("cam", "cam");
        assertThat(manager.get("cam_flow").get(5, TimeUnit.SECONDS)).isPresent();
        clock.advance(Duration.ofSeconds(10));
        assertThat(manager.get("cam_flow").get(5, TimeUnit.SECONDS)).as("the first publish's grace timer is gone").isPresent();
        assertThat(count(events, "started")).isEqualTo(1);
        assertThat(count(events, "stopped")).isZero();

        // It stops for longer than the grace: the workflow goes.
        second.end();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
            clock.advance(Duration.ofMillis(500));
            return manager.get("cam_flow").get(5, TimeUnit.SECONDS).isEmpty();
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> count(events, "stopped") == 1);
    }

    private static long count(List<HubEvent> events, String state) {
        return events.stream().filter(e -> e instanceof WorkflowEvent w && w.workflow().equals("cam_flow") && w.state().equals(state)).count();
    }
}
