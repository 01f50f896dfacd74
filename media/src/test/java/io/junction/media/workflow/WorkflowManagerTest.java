package io.junction.media.workflow;

import io.junction.core.RoutingPattern;
import io.junction.media.MediaSettings;
import io.junction.core.hub.EventHub;
import io.junction.core.hub.HubEvent;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.rtmp.RtmpGate;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
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
    private FfmpegEndpoint ffmpeg;
    private WorkflowManager manager;

    private WorkflowManager start(String ffmpegPath) {
        hub.subscribe(RoutingPattern.of("workflow.#"), 100, events::add);
        ffmpeg = new FfmpegEndpoint(new MediaSettings.Ffmpeg(ffmpegPath, 100, 1000), new SimpleMeterRegistry());
        manager = WorkflowManager.builder().ffmpeg(ffmpeg).hub(hub).hlsRoot(dir).start();
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
}
