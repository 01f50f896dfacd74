package io.junction.media.workflow;

/** Makes the running step for a step definition. */
final class Steps {

    private Steps() {
    }

    static Step create(String workflow, int index, StepDefinition d, MediaServices services, Step.Output output) {
        return switch (d) {
            case StepDefinition.RtmpReceive r -> new ReceiveStep();
            case StepDefinition.RtmpWatch w -> new WatchStep(workflow, w, services, output);
            case StepDefinition.FfmpegHls h -> new FfmpegStep(workflow, index, d, services, output);
            case StepDefinition.FfmpegPush p -> new FfmpegStep(workflow, index, d, services, output);
            case StepDefinition.FfmpegTranscode t -> new FfmpegStep(workflow, index, d, services, output);
            case StepDefinition.FfmpegPull p -> new PullStep(workflow, p, services, output);
            case StepDefinition.ForwardToWorkflow f -> new ForwardStep(workflow, f, services, output);
        };
    }
}
