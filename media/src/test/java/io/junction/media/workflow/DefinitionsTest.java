package io.junction.media.workflow;

import io.junction.core.Json;
import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;
import io.junction.media.MediaSettings;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Workflow definitions from the config file, the API and reactors, and the errors bad ones get. */
class DefinitionsTest {

    private static MediaSettings media(String toml) {
        return MediaSettings.read(Section.parse("t.toml", toml, Map.<String, String>of()::get));
    }

    @Test
    void theIssuesExampleConfigReadsIntoTypedSteps() {
        MediaSettings c = media("""
                [rtmp]
                port = 1935

                [[workflows]]
                name = "live"
                steps = [
                  { type = "rtmp_receive", app = "live", stream_key = "*" },
                  { type = "ffmpeg_hls", segment_seconds = 2 },
                  { type = "rtmp_watch", app = "watch", stream_key = "*" },
                ]
                """);
        WorkflowDefinition d = Definitions.fromConfig(c.workflows().getFirst());
        assertThat(d.steps()).containsExactly(
                new StepDefinition.RtmpReceive("live", "*"),
                new StepDefinition.FfmpegHls(2, 5),
                new StepDefinition.RtmpWatch("watch", "*"));
        assertThat(c.rtmp().port()).isEqualTo(1935);
    }

    @Test
    void liveVideoIsOnOnlyWhenTheConfigAsksForIt() {
        assertThat(media("[http]\nport = 8080\n").enabled()).isFalse();
        assertThat(media("[rtmp]\n").enabled()).isTrue();
        assertThat(media("[[workflows]]\nname = \"w\"\nsteps = [{ type = \"rtmp_receive\", app = \"a\" }]\n").enabled()).isTrue();
    }

    @Test
    void aBadStepParameterInTheConfigNamesFileLineOfItsStepsWorkflowStepAndParameter() {
        MediaSettings c = media("""
                [[workflows]]
                name = "live"
                steps = [
                  { type = "rtmp_receive", app = "live" },
                  { type = "ffmpeg_hls", segment_seconds = 0 },
                ]
                """);
        assertThatThrownBy(() -> Definitions.fromConfig(c.workflows().getFirst()))
                .isInstanceOf(ConfigException.class)
                .hasMessage("t.toml:4: workflows: workflow 'live' step 2 (ffmpeg_hls): segment_seconds: expected a whole number from 1 to 60, got 0");
    }

    @Test
    void configWorkflowsWhoseForwardsCloseALoopStopTheConfigNamingTheLoop() {
        MediaSettings c = media("""
                [[workflows]]
                name = "a"
                steps = [{ type = "rtmp_receive", app = "a" }, { type = "forward_to_workflow", workflow = "b" }]

                [[workflows]]
                name = "b"
                steps = [{ type = "forward_to_workflow", workflow = "c" }]

                [[workflows]]
                name = "c"
                steps = [{ type = "rtmp_watch", app = "w" }, { type = "forward_to_workflow", workflow = "a" }]
                """);
        assertThatThrownBy(() -> Definitions.fromConfig(c.workflows()))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("t.toml:9: workflows: workflow 'c' forwards to 'a', which forwards to 'b', which forwards back to 'c'");
        // A chain that does not come back is fine, in any order.
        MediaSettings chain = media("""
                [[workflows]]
                name = "a"
                steps = [{ type = "rtmp_receive", app = "a" }, { type = "forward_to_workflow", workflow = "b" }, { type = "forward_to_workflow", workflow = "c" }]

                [[workflows]]
                name = "c"
                steps = [{ type = "forward_to_workflow", workflow = "b" }]

                [[workflows]]
                name = "b"
                steps = [{ type = "rtmp_watch", app = "w" }]
                """);
        assertThat(Definitions.fromConfig(chain.workflows())).extracting(WorkflowDefinition::name).containsExactly("a", "c", "b");
    }

    @Test
    void aForwardLoopIsFoundWhateverItsLengthAndADefinitionThatReplacesItsNamesakeIsCheckedAsTheNewOne() {
        Map<String, WorkflowDefinition> defined = new java.util.HashMap<>();
        for (String[] edge : new String[][]{{"a", "b"}, {"b", "c"}, {"c", "d"}}) {
            defined.put(edge[0], forward(edge[0], edge[1]));
        }
        assertThat(ForwardLoops.closedBy(forward("d", "a"), n -> java.util.Optional.ofNullable(defined.get(n)))).contains(
                "workflow 'd' forwards to 'a', which forwards to 'b', which forwards to 'c', which forwards back to 'd':"
                        + " a stream would go round forever; remove one of these forward_to_workflow steps");
        assertThat(ForwardLoops.closedBy(forward("d", "e"), n -> java.util.Optional.ofNullable(defined.get(n)))).isEmpty();
        // b's new definition no longer leads to c, so c forwarding to a closes nothing.
        defined.put("b", new WorkflowDefinition("b", List.of(new StepDefinition.RtmpWatch("w", "*"))));
        assertThat(ForwardLoops.closedBy(forward("c", "a"), n -> java.util.Optional.ofNullable(defined.get(n)))).isEmpty();
        // b forwarding to itself, the short way round
        assertThat(ForwardLoops.closedBy(forward("b", "b"), n -> java.util.Optional.<WorkflowDefinition>empty()))
                .contains("workflow 'b' forwards to itself");
        // and through the API or a reactor, a self-forward is refused with the definition
        assertThatThrownBy(() -> Definitions.fromJson("s", Json.parse("{\"steps\": [{\"type\": \"forward_to_workflow\", \"workflow\": \"s\"}]}")))
                .isInstanceOf(DefinitionException.class).hasMessageContaining("a workflow cannot forward to itself");
    }

    private static WorkflowDefinition forward(String name, String target) {
        return new WorkflowDefinition(name, List.of(new StepDefinition.ForwardToWorkflow(target)));
    }

    @Test
    void publisherGraceIsALengthOfTimeOfAtMostTenMinutesTenSecondsByDefault() {
        assertThat(media("[rtmp]\n").rtmp().publisherGrace()).isEqualTo(java.time.Duration.ofSeconds(10));
        assertThat(media("[rtmp]\npublisher_grace = \"2500ms\"\n").rtmp().publisherGrace()).isEqualTo(java.time.Duration.ofMillis(2500));
        assertThat(media("[rtmp]\npublisher_grace = \"0s\"\n").rtmp().publisherGrace()).isZero();
        assertThatThrownBy(() -> media("[rtmp]\npublisher_grace = \"soon\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("t.toml:2: rtmp.publisher_grace: \"soon\" is not a length of time");
        assertThatThrownBy(() -> media("[rtmp]\npublisher_grace = \"1h\"\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("expected at most \"10m\"");
        assertThatThrownBy(() -> media("[rtmp]\npublisher_grace = 10\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("publisher_grace");
    }

    @Test
    void unknownKeysInTheMediaSectionsStopTheConfigAtTheirLine() {
        assertThatThrownBy(() -> media("""
                [rtmp]
                prot = 1935
                """)).isInstanceOf(ConfigException.class).hasMessageStartingWith("t.toml:2: rtmp.prot: unknown key");
        assertThatThrownBy(() -> media("""
                [[reactors]]
                name = "r"
                url = "ftp://x"
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("reactors[1].url");
    }

    @Test
    void apiDefinitionErrorsNameTheStepAndTheParameter() {
        assertThatThrownBy(() -> Definitions.fromJson("w", Json.parse("""
                {"steps": [{"type": "rtmp_receive", "app": "live"}, {"type": "ffmpeg_push"}]}""")))
                .hasMessage("workflow 'w' step 2 (ffmpeg_push): url: is required: the rtmp:// or rtmps:// URL to push to ({stream} becomes the stream name)");
        assertThatThrownBy(() -> Definitions.fromJson("w", Json.parse("""
                {"steps": [{"type": "rtmp_receive", "app": "live", "colour": "red"}]}""")))
                .hasMessage("workflow 'w' step 1 (rtmp_receive): colour: unknown parameter; this step takes app, stream_key");
        assertThatThrownBy(() -> Definitions.fromJson("w", Json.parse("""
                {"steps": [{"type": "ffmpeg_transcode", "size": "big"}]}""")))
                .hasMessageContaining("step 1 (ffmpeg_transcode): size: expected WIDTHxHEIGHT");
        assertThatThrownBy(() -> Definitions.fromJson("w", Json.parse("""
                {"steps": [{"type": "teleport"}]}""")))
                .hasMessageContaining("step 1: unknown step type 'teleport'");
        assertThatThrownBy(() -> Definitions.fromJson("w", Json.parse("""
                {"steps": [{"type": "forward_to_workflow", "workflow": "w"}]}""")))
                .hasMessageContaining("cannot forward to itself");
    }

    @Test
    void mmidsConfigurationFormatIsTranslatedToJunctionSteps() {
        List<WorkflowDefinition> list = Definitions.fromReactorAnswer("""
                # from an mmids reactor service
                workflow abc_workflow {
                    rtmp_receive rtmp_app=live stream_key=abc reactor=r1
                    ffmpeg_transcode vcodec=h264 acodec=aac h264_preset=ultrafast size=640x360 kbps=800
                    ffmpeg_hls path=/var/hls duration=2 count=4
                    ffmpeg_push target="rtmp://example.com/live/abc"
                    rtmp_watch rtmp_app=abc stream_key=*
                }

                workflow second {
                    forward_to_workflow target_workflow=abc_workflow
                }
                """);
        assertThat(list).hasSize(2);
        assertThat(list.getFirst().steps()).containsExactly(
                new StepDefinition.RtmpReceive("live", "abc"),
                new StepDefinition.FfmpegTranscode("h264", "aac", "ultrafast", "640x360", 800),
                new StepDefinition.FfmpegHls(2, 4),
                new StepDefinition.FfmpegPush("rtmp://example.com/live/abc"),
                new StepDefinition.RtmpWatch("abc", "*"));
        assertThat(list.get(1).steps()).containsExactly(new StepDefinition.ForwardToWorkflow("abc_workflow"));
    }

    @Test
    void reactorAnswersInJunctionsJsonFormAreAccepted() {
        List<WorkflowDefinition> list = Definitions.fromReactorAnswer("""
                {"workflows": [{"name": "cam7", "steps": [{"type": "rtmp_watch", "app": "cam7"}]}]}""");
        assertThat(list).containsExactly(new WorkflowDefinition("cam7", List.of(new StepDefinition.RtmpWatch("cam7", "*"))));
    }

    @Test
    void invalidReactorAnswersAreRejectedWithAReason() {
        assertThatThrownBy(() -> Definitions.fromReactorAnswer("hello there")).hasMessageContaining("expected 'workflow NAME {'");
        assertThatThrownBy(() -> Definitions.fromReactorAnswer("workflow a {\n rtmp_watch rtmp_app=x\n")).hasMessageContaining("not closed");
        assertThatThrownBy(() -> Definitions.fromReactorAnswer("workflow a {\n ffmpeg_hls duration=abc\n}"))
                .hasMessageContaining("segment_seconds: expected a whole number");
    }

    @Test
    void aDefinitionWrittenAsJsonReadsBackTheSame() {
        WorkflowDefinition d = new WorkflowDefinition("all", List.of(
                new StepDefinition.RtmpReceive("live", "cam1"),
                new StepDefinition.FfmpegTranscode("h264", "copy", "ultrafast", "640x360", 800),
                new StepDefinition.FfmpegTranscode("copy", "aac", "veryfast", "", 0),
                new StepDefinition.FfmpegHls(3, 7),
                new StepDefinition.FfmpegPush("rtmp://example.com/app/{stream}"),
                new StepDefinition.FfmpegPull("srt://example.com:9000", "pulled"),
                new StepDefinition.ForwardToWorkflow("other"),
                new StepDefinition.RtmpWatch("watch", "*")));
        assertThat(Definitions.fromJson("all", Definitions.toJson(d))).isEqualTo(d);
    }
}
