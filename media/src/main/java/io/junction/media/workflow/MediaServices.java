package io.junction.media.workflow;

import io.junction.core.hub.EventHub;
import io.junction.media.ffmpeg.FfmpegEndpoint;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * What steps use besides their definition: the ffmpeg endpoint, the hub, where HLS goes, the late-joiner cache size,
 * the watch steps players are looked up in, and the other workflows (for forwarding).
 *
 * @param server         this server's name in the workflows a stream passed through ({@link LoopGuard}): random per start
 * @param publisherGrace how long players wait for a stream whose publisher stopped to be published again
 */
record MediaServices(FfmpegEndpoint ffmpeg, EventHub hub, Path hlsRoot, int gopCacheBytes,
                     CopyOnWriteArrayList<WatchStep> watchers, Function<String, Optional<Workflow>> workflows, Clock clock,
                     String server, Duration publisherGrace) {
}
