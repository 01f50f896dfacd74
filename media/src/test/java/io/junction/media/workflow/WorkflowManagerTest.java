package io.junction.media.workflow;

import io.junction.core.RoutingPattern;
import io.junction.media.MediaSettings;
import io.junction.core.hub.EventHub;
import io.junction.core.hub.HubEvent;
import io.junction.core.testing.MemoryStateStore;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.rtmp.MediaPacket;
import io.junction.media.rtmp.MediaSink;
import io.junction.media.rtmp.RtmpGate;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The workflow manager's lifecycle rules, without ffmpeg or RTMP clients. */
class WorkflowManagerTest {

    @TempDir
    Path dir;

    private final EventHub hub = new EventHub(Clock.systemUTC());
    private final List<HubEvent> events = new CopyOnWriteArrayList<>();
    private final MemoryStateStore state = new MemoryStateStore(Clock.systemUTC());
    private FfmpegEndpoint ffmpeg;
    private WorkflowManager manager;

    private WorkflowManager start(String ffmpegPath) {
        hub.subscribe(RoutingPattern.of("workflow.#"), 100, events::add);
        hub.subscribe(RoutingPattern.of("stream.#"), 100, events::add);
        ffmpeg = new FfmpegEndpoint(new MediaSettings.Ffmpeg(ffmpegPath, 100, 1000), new SimpleMeterRegistry());
        manager = WorkflowManager.builder().ffmpeg(ffmpeg).hub(hub).hlsRoot(dir).state(state).start();
        return manager;
    }

    /** Closes the manager and starts a new one on the same state port, as a restart does. */
    private WorkflowManager restart() {
        manager.close();
        manager = WorkflowManager.builder().ffmpeg(ffmpeg).hub(hub).hlsRoot(dir).state(state).start();
        return manager;
    }

    @AfterEach
    void stop() {
        if (manager != null) {
            manager.close();
            ffmpeg.close();
        }
        hub.close();
    }

    private static WorkflowDefinition hls(String name) {
        return new WorkflowDefinition(name, List.of(new StepDefinition.RtmpReceive("live", "*"),
                new StepDefinition.FfmpegHls(2, 5), new StepDefinition.RtmpWatch("watch", "*")));
    }

    @Test
    void aStepThatCannotStartFailsTheWorkflowWhichStopsAllItsStepsWithTheReason() throws Exception {
        start(dir.resolve("no/ffmpeg").toString());
        Map<String, Object> view = manager.put(hls("live"), "api").get(5, TimeUnit.SECONDS);
        assertThat(view.get("state")).isEqualTo("failed");
        assertThat((String) view.get("detail")).startsWith("step 2 (ffmpeg_hls): ffmpeg was not found at").contains("apt-get install ffmpeg");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> steps = (List<Map<String, Object>>) view.get("steps");
        assertThat(steps).extracting(s -> s.get("state")).containsExactly("stopped", "failed", "stopped");
        await().until(() -> events.stream().anyMatch(e -> e instanceof WorkflowEvent w && w.state().equals("failed")));

        // A failed workflow accepts no publish; its watch step never registered for players.
        assertThatThrownBy(() -> manager.publish("live", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(RtmpGate.Refused.class);
        assertThatThrownBy(() -> manager.play("watch", "cam", null)).isInstanceOf(RtmpGate.Refused.class);
    }

    @Test
    void anUpdateWithTheSameDefinitionKeepsTheWorkflowAndANewOneRestartsIt() throws Exception {
        start("ffmpeg");
        WorkflowDefinition watchOnly = new WorkflowDefinition("w", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.RtmpWatch("out", "*")));
        manager.put(watchOnly, "api").get(5, TimeUnit.SECONDS);
        manager.put(watchOnly, "api").get(5, TimeUnit.SECONDS);
        await().until(() -> events.stream().filter(e -> e instanceof WorkflowEvent w && w.state().equals("started")).count() == 1);

        WorkflowDefinition changed = new WorkflowDefinition("w", List.of(new StepDefinition.RtmpReceive("in2", "*")));
        Map<String, Object> view = manager.put(changed, "api").get(5, TimeUnit.SECONDS);
        assertThat(view.get("state")).isEqualTo("active");
        await().until(() -> events.stream().filter(e -> e instanceof WorkflowEvent w && w.state().equals("started")).count() == 2);
        assertThat(events.stream().filter(e -> e instanceof WorkflowEvent w && w.state().equals("started"))
                .map(e -> ((WorkflowEvent) e).detail()).toList()).containsExactly("", "restarted with a new definition");

        // The old watch step is gone with the old definition; the new receive step takes publishes on in2 only.
        assertThatThrownBy(() -> manager.play("out", "cam", null)).isInstanceOf(RtmpGate.Refused.class);
        assertThat(manager.publish("in2", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(manager.remove("w").get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(manager.get("w").get(5, TimeUnit.SECONDS)).isEmpty();
    }

    @Test
    void aWorkflowDefinedThroughTheApiIsThereAfterARestartAndADeletedOneIsNot() throws Exception {
        start("ffmpeg");
        WorkflowDefinition kept = new WorkflowDefinition("kept", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.RtmpWatch("out", "*")));
        WorkflowDefinition deleted = new WorkflowDefinition("deleted", List.of(new StepDefinition.RtmpReceive("in2", "*")));
        WorkflowDefinition fromConfig = new WorkflowDefinition("config", List.of(new StepDefinition.RtmpReceive("in3", "*")));
        manager.put(kept, "api").get(5, TimeUnit.SECONDS);
        manager.put(deleted, "api").get(5, TimeUnit.SECONDS);
        manager.put(fromConfig, "config").get(5, TimeUnit.SECONDS);
        assertThat(manager.remove("deleted").get(5, TimeUnit.SECONDS)).isTrue();

        restart();
        Map<String, Object> view = await().atMost(Duration.ofSeconds(5))
                .until(() -> manager.get("kept").get(5, TimeUnit.SECONDS), v -> v.isPresent() && v.get().get("state").equals("active")).orElseThrow();
        assertThat(view.get("source")).isEqualTo("api");
        assertThat(manager.list().get(5, TimeUnit.SECONDS)).extracting(w -> w.get("name"))
                .as("the API's deleted workflow stays deleted; the config file's come from the config file").containsExactly("kept");
        // It runs as before: its receive step takes publishes again, its watch step serves players.
        assertThat(manager.publish("in", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS)).isNotNull();
        assertThatThrownBy(() -> manager.play("nothing", "cam", null)).isInstanceOf(RtmpGate.Refused.class);

        // The config file taking the name back means the API's definition is no longer kept.
        manager.put(new WorkflowDefinition("kept", List.of(new StepDefinition.RtmpReceive("in4", "*"))), "config").get(5, TimeUnit.SECONDS);
        restart();
        assertThat(manager.list().get(5, TimeUnit.SECONDS)).isEmpty();
    }

    @Test
    void aDefinitionWhoseForwardsCloseALoopIsRefusedNamingItAndNothingChanges() throws Exception {
        start("ffmpeg");
        WorkflowDefinition a = new WorkflowDefinition("a", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.ForwardToWorkflow("b")));
        WorkflowDefinition b = new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("out", "*")));
        manager.put(a, "api").get(5, TimeUnit.SECONDS);
        manager.put(b, "api").get(5, TimeUnit.SECONDS);
        WorkflowDefinition back = new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("out", "*"),
                new StepDefinition.ForwardToWorkflow("a")));
        assertThatThrownBy(() -> manager.put(back, "api").get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(ForwardLoopException.class)
                .hasMessageStartingWith("workflow 'b' forwards to 'a', which forwards back to 'b'");
        assertThat(manager.get("b").get(5, TimeUnit.SECONDS).orElseThrow().get("steps")).asList().hasSize(1);
        assertThat(state.get(WorkflowManager.COLLECTION, "b").orElseThrow().json()).doesNotContain("forward_to_workflow");

        // A longer way round, through a workflow from the config file.
        manager.put(new WorkflowDefinition("c", List.of(new StepDefinition.ForwardToWorkflow("a"))), "config").get(5, TimeUnit.SECONDS);
        WorkflowDefinition viaC = new WorkflowDefinition("b", List.of(new StepDefinition.ForwardToWorkflow("c")));
        assertThatThrownBy(() -> manager.put(viaC, "config").get(5, TimeUnit.SECONDS))
                .cause().isInstanceOf(ForwardLoopException.class)
                .hasMessageStartingWith("workflow 'b' forwards to 'c', which forwards to 'a', which forwards back to 'b'");

        // Once a is gone, the same definition closes nothing.
        assertThat(manager.remove("a").get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(manager.put(viaC, "config").get(5, TimeUnit.SECONDS).get("state")).isEqualTo("active");
    }

    @Test
    void storedWorkflowsThatWouldCloseALoopAreNotRestoredAndTheOthersAre() throws Exception {
        // Kept before loops were refused: x and y forward to each other.
        state.put(WorkflowManager.COLLECTION, "x", "{\"name\":\"x\",\"steps\":[{\"type\":\"forward_to_workflow\",\"workflow\":\"y\"}]}");
        state.put(WorkflowManager.COLLECTION, "y", "{\"name\":\"y\",\"steps\":[{\"type\":\"forward_to_workflow\",\"workflow\":\"x\"}]}");
        start("ffmpeg");
        assertThat(manager.list().get(5, TimeUnit.SECONDS)).extracting(w -> w.get("name")).containsExactly("x");
        assertThat(state.get(WorkflowManager.COLLECTION, "y")).as("kept, to be replaced through the API").isPresent();
    }

    @Test
    void aForwardedStreamStartsFlowsAndEndsInTheTargetWorkflow() throws Exception {
        start("ffmpeg");
        manager.put(new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("out", "*"))), "api").get(5, TimeUnit.SECONDS);
        manager.put(new WorkflowDefinition("a", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.ForwardToWorkflow("b"))), "api").get(5, TimeUnit.SECONDS);
        MediaSink sink = manager.publish("in", "cam", "test", () -> { }).get(5, TimeUnit.SECONDS);
        byte[] keyframe = {0x17, 0x01, 0, 0, 0};
        for (int i = 0; i < 3; i++) {
            sink.media(new MediaPacket(MediaPacket.Kind.VIDEO, i * 40, keyframe));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> streams("b").size() == 1 && ((Number) streams("b").get(0).get("packets")).intValue() == 3);
        assertThat(streams("b").get(0).get("from")).isEqualTo("workflow a");
        await().atMost(Duration.ofSeconds(5)).until(() -> events.stream().anyMatch(e -> e instanceof StreamEvent s
                && s.workflow().equals("b") && s.state().equals("started") && s.from().equals("workflow a")));

        sink.end();
        await().atMost(Duration.ofSeconds(5)).until(() -> streams("b").isEmpty());
        await().atMost(Duration.ofSeconds(5)).until(() -> events.stream().anyMatch(e -> e instanceof StreamEvent s
                && s.workflow().equals("b") && s.state().equals("stopped")));
    }

    private static final MediaPacket METADATA = new MediaPacket(MediaPacket.Kind.METADATA, 0, new byte[]{2, 0, 10});
    private static final MediaPacket VIDEO_HEADER = new MediaPacket(MediaPacket.Kind.VIDEO, 0, new byte[]{0x17, 0, 0, 0, 0});
    private static final MediaPacket AUDIO_HEADER = new MediaPacket(MediaPacket.Kind.AUDIO, 0, new byte[]{(byte) 0xAF, 0, 0x12, 0x10});

    private static MediaPacket frame(int ts, boolean key) {
        return new MediaPacket(MediaPacket.Kind.VIDEO, ts, new byte[]{(byte) (key ? 0x17 : 0x27), 1, 0, 0, 0});
    }

    /** Publishes the headers, a key frame and two more frames: what a late step needs is those six packets. */
    private MediaSink publishSixPackets(String app) throws Exception {
        MediaSink sink = manager.publish(app, "cam", "test", () -> { }).get(5, TimeUnit.SECONDS);
        sink.media(METADATA);
        sink.media(VIDEO_HEADER);
        sink.media(AUDIO_HEADER);
        sink.media(frame(0, true));
        sink.media(frame(40, false));
        sink.media(frame(80, false));
        return sink;
    }

    private long packets(String workflow) throws Exception {
        List<Map<String, Object>> s = streams(workflow);
        return s.isEmpty() ? 0 : ((Number) s.get(0).get("packets")).longValue();
    }

    @Test
    void aWorkflowCreatedWhileAPublishIsLiveGetsItsHeadersAndCurrentGroupOfPicturesFirst() throws Exception {
        start("ffmpeg");
        manager.put(new WorkflowDefinition("first", List.of(new StepDefinition.RtmpReceive("in", "*"))), "api").get(5, TimeUnit.SECONDS);
        MediaSink sink = publishSixPackets("in");
        manager.put(new WorkflowDefinition("late", List.of(new StepDefinition.RtmpReceive("in", "*"))), "api").get(5, TimeUnit.SECONDS);
        sink.media(frame(120, false));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(packets("first")).isEqualTo(7));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(packets("late")).isEqualTo(7));
    }

    @Test
    void aForwardTargetCreatedWhileTheStreamIsLiveGetsItsHeadersFirst() throws Exception {
        start("ffmpeg");
        manager.put(new WorkflowDefinition("a", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.ForwardToWorkflow("b"))), "api").get(5, TimeUnit.SECONDS);
        MediaSink sink = publishSixPackets("in");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(packets("a")).isEqualTo(6));
        manager.put(new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("out", "*"))), "api").get(5, TimeUnit.SECONDS);
        sink.media(frame(120, false));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(packets("b")).isEqualTo(7));
        assertThat(streams("b").get(0).get("from")).isEqualTo("workflow a");
    }

    @Test
    void anUpdateKeepsTheStepsItDoesNotChangeAndStartsTheOthersWithTheLiveStream() throws Exception {
        start("ffmpeg");
        manager.put(new WorkflowDefinition("w", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.RtmpWatch("out", "*"))), "api").get(5, TimeUnit.SECONDS);
        MediaSink sink = publishSixPackets("in");
        manager.put(new WorkflowDefinition("w", List.of(new StepDefinition.RtmpReceive("in", "*"),
                new StepDefinition.ForwardToWorkflow("b"), new StepDefinition.RtmpWatch("out", "*"))), "api").get(5, TimeUnit.SECONDS);
        await().until(() -> events.stream().anyMatch(e -> e instanceof WorkflowEvent w && w.state().equals("started")
                && w.detail().equals("updated with a new definition; steps 1, 3 kept running")));
        // The forward added by the update hands the live stream on with its headers and group of pictures.
        manager.put(new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("out2", "*"))), "api").get(5, TimeUnit.SECONDS);
        sink.media(frame(120, false));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(packets("b")).isEqualTo(7));
        assertThat(packets("w")).isEqualTo(7);
    }

    @Test
    void watchStepsOverlappingAnotherWorkflowsOrEachOtherAreRefused() throws Exception {
        start("ffmpeg");
        manager.put(new WorkflowDefinition("one", List.of(new StepDefinition.RtmpWatch("shared", "cam"))), "api").get(5, TimeUnit.SECONDS);
        assertThatThrownBy(() -> manager.put(new WorkflowDefinition("two", List.of(new StepDefinition.RtmpWatch("shared", "*"))), "api")
                .get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(WorkflowConflictException.class)
                .hasMessageContaining("workflow 'two' step 1 (rtmp_watch) would serve players on app 'shared' with stream key '*', which workflow 'one' already serves");
        assertThat(manager.get("two").get(5, TimeUnit.SECONDS)).isEmpty();
        assertThatThrownBy(() -> manager.put(new WorkflowDefinition("three", List.of(new StepDefinition.RtmpWatch("x", "*"),
                new StepDefinition.RtmpWatch("x", "cam"))), "api").get(5, TimeUnit.SECONDS))
                .hasCauseInstanceOf(DefinitionException.class).hasMessageContaining("workflow 'three' steps 1 and 2 (rtmp_watch)");
        // Once 'one' is gone, its app is free.
        manager.remove("one").get(5, TimeUnit.SECONDS);
        assertThat(manager.put(new WorkflowDefinition("two", List.of(new StepDefinition.RtmpWatch("shared", "*"))), "api")
                .get(5, TimeUnit.SECONDS).get("state")).isEqualTo("active");
    }

    @SuppressWarnings("unchecked")
    private List<Map<String, Object>> streams(String workflow) throws Exception {
        return (List<Map<String, Object>>) manager.get(workflow).get(5, TimeUnit.SECONDS).orElseThrow().get("streams");
    }
}
