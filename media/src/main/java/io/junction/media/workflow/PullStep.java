package io.junction.media.workflow;

import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.ffmpeg.FfmpegProcess;
import io.junction.media.rtmp.MediaPacket;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code ffmpeg_pull}: ffmpeg reads a URL and writes FLV to Junction, which enters the workflow after this step as
 * the stream {@code stream_name}. The stream starts with the first packet of each ffmpeg run and stops when that run
 * ends; the endpoint restarts the run after a back-off. Media arriving from earlier steps passes through.
 */
final class PullStep implements Step {

    private final String workflow;
    private final StepDefinition.FfmpegPull definition;
    private final MediaServices services;
    private final Step.Output output;
    private FfmpegProcess process;

    PullStep(String workflow, StepDefinition.FfmpegPull definition, MediaServices services, Step.Output output) {
        this.workflow = workflow;
        this.definition = definition;
        this.services = services;
        this.output = output;
    }

    @Override
    public void start() {
        String url = definition.url();
        List<String> args = new ArrayList<>(List.of("-rw_timeout", "10000000"));
        if (url.startsWith("rtmp")) {
            args.addAll(List.of("-rtmp_live", "live"));
        }
        args.addAll(List.of("-i", url, "-c", "copy", "-f", "flv", "pipe:1"));
        String stream = definition.streamName();
        try {
            process = services.ffmpeg().start(workflow + "/ffmpeg_pull/" + stream, args, false, new FfmpegProcess.Listener() {
                private boolean live;

                @Override
                public void output(MediaPacket packet) {
                    if (!live) {
                        live = true;
                        output.started(stream, "pull " + url);
                    }
                    output.media(stream, packet);
                }

                @Override
                public void outputEnded() {
                    if (live) {
                        live = false;
                        output.ended(stream);
                    }
                }
            });
        } catch (FfmpegEndpoint.MissingException e) {
            throw new Step.Failure(e.getMessage());
        }
    }

    @Override
    public void stop() {
        if (process != null) {
            process.stop();
        }
    }

    @Override
    public Map<String, Object> info() {
        return process == null ? Map.of() : Map.of("processes", List.of(FfmpegStep.describe(definition.streamName(), process)));
    }
}
