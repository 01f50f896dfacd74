package io.junction.media.workflow;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One step of a workflow, validated: its type and its typed parameters. Two definitions are equal when they would
 * run the same way, which is how an update tells whether a workflow must restart.
 */
public sealed interface StepDefinition {

    /** The step type as written in definitions ({@code rtmp_receive}, {@code ffmpeg_hls}, ...). */
    String type();

    /** The parameters as the API shows them. */
    Map<String, Object> params();

    /** Accept publishers on {@code app}; {@code streamKey} is one key or {@code *} for any. */
    record RtmpReceive(String app, String streamKey) implements StepDefinition {
        public String type() {
            return "rtmp_receive";
        }

        public Map<String, Object> params() {
            return map("app", app, "stream_key", streamKey);
        }

        boolean accepts(String app, String key) {
            return this.app.equals(app) && (streamKey.equals("*") || streamKey.equals(key));
        }
    }

    /** Serve players on {@code app} with the workflow's streams whose name matches {@code streamKey}. */
    record RtmpWatch(String app, String streamKey) implements StepDefinition {
        public String type() {
            return "rtmp_watch";
        }

        public Map<String, Object> params() {
            return map("app", app, "stream_key", streamKey);
        }

        boolean serves(String key) {
            return streamKey.equals("*") || streamKey.equals(key);
        }
    }

    /**
     * Transcode each stream with ffmpeg; the transcoded stream goes on to the next step.
     *
     * @param videoCodec {@code h264} or {@code copy}
     * @param audioCodec {@code aac} or {@code copy}
     * @param size       {@code WIDTHxHEIGHT}, or empty to keep the size
     * @param kbps       the video bit rate, or 0 for ffmpeg's default
     */
    record FfmpegTranscode(String videoCodec, String audioCodec, String preset, String size, int kbps) implements StepDefinition {
        public String type() {
            return "ffmpeg_transcode";
        }

        public Map<String, Object> params() {
            Map<String, Object> m = map("video_codec", videoCodec, "audio_codec", audioCodec, "h264_preset", preset);
            if (!size.isEmpty()) {
                m.put("size", size);
            }
            if (kbps > 0) {
                m.put("kbps", kbps);
            }
            return m;
        }
    }

    /** Write each stream as HLS (playlist and segments), served at {@code /hls/{workflow}/{stream}/index.m3u8}. */
    record FfmpegHls(int segmentSeconds, int segmentCount) implements StepDefinition {
        public String type() {
            return "ffmpeg_hls";
        }

        public Map<String, Object> params() {
            return map("segment_seconds", segmentSeconds, "segment_count", segmentCount);
        }
    }

    /** Push each stream to an RTMP URL; {@code {stream}} in the URL becomes the stream name. */
    record FfmpegPush(String url) implements StepDefinition {
        public String type() {
            return "ffmpeg_push";
        }

        public Map<String, Object> params() {
            return map("url", url);
        }
    }

    /** Pull {@code url} into the workflow as the stream {@code streamName}. */
    record FfmpegPull(String url, String streamName) implements StepDefinition {
        public String type() {
            return "ffmpeg_pull";
        }

        public Map<String, Object> params() {
            return map("url", url, "stream_name", streamName);
        }
    }

    /** Hand each stream to another workflow, which receives it at its first step. */
    record ForwardToWorkflow(String workflow) implements StepDefinition {
        public String type() {
            return "forward_to_workflow";
        }

        public Map<String, Object> params() {
            return map("workflow", workflow);
        }
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
