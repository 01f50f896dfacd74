package io.junction.server;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;
import io.junction.core.feature.FeatureContext;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.media.MediaSettings;
import io.junction.media.ffmpeg.FfmpegEndpoint;
import io.junction.media.hls.HlsRoutes;
import io.junction.media.rtmp.RtmpServer;
import io.junction.media.workflow.DefinitionException;
import io.junction.media.workflow.Definitions;
import io.junction.media.workflow.ForwardLoopException;
import io.junction.media.workflow.WorkflowConflictException;
import io.junction.media.workflow.WorkflowDefinition;
import io.junction.media.workflow.WorkflowManager;
import io.junction.media.workflow.WorkflowRoutes;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Starts live video for the composition root: the ffmpeg endpoint, the workflow manager with the config file's
 * workflows and reactors, the RTMP endpoint, and the workflow and HLS routes. Returns what closes them in reverse.
 */
final class MediaFeature extends NamedFeature<MediaSettings> {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MediaFeature.class);

    MediaFeature() {
        super("media", MediaSettings::read);
    }

    /**
     * Reads {@code [rtmp]}, {@code [ffmpeg]}, {@code [[workflows]]}, {@code [[reactors]]} and {@code [hls]}, and checks each
     * workflow's step types and parameters, with the file and line of the step when one is wrong.
     */
    @Override
    public MediaSettings check(Section root) {
        MediaSettings settings = super.check(root);
        // Each workflow alone (step types and parameters), then with those before it: forwards that close a loop
        // (Definitions), rtmp_watch steps that overlap (checkWatches).
        List<WorkflowDefinition> definitions = Definitions.fromConfig(settings.workflows());
        List<WorkflowDefinition> earlier = new ArrayList<>();
        for (int i = 0; i < definitions.size(); i++) {
            WorkflowDefinition d = definitions.get(i);
            try {
                WorkflowConflictException.checkWatches(d, earlier);
            } catch (WorkflowConflictException | DefinitionException e) {
                throw new ConfigException(settings.workflows().get(i).where() + ": workflows: " + e.getMessage());
            }
            earlier.add(d);
        }
        return settings;
    }

    @Override
    public AutoCloseable start(FeatureContext context, MediaSettings settings) {
        if (!settings.enabled()) {
            log.info("live video is off: add an [rtmp] section (or workflows) to the config to open the RTMP endpoint");
            return () -> {
            };
        }
        // Step types and parameters were checked with the config (check); here they become the definitions to start.
        List<WorkflowDefinition> definitions = Definitions.fromConfig(settings.workflows());
        Deque<AutoCloseable> started = new ArrayDeque<>();
        try {
            FfmpegEndpoint ffmpeg = new FfmpegEndpoint(settings.ffmpeg(), context.env().apply("PATH"), context.metrics());
            started.push(ffmpeg);
            Path hlsRoot = HlsRoutes.root(context.dataDir());
            WorkflowManager manager = WorkflowManager.builder()
                    .ffmpeg(ffmpeg)
                    .hub(context.hub())
                    .hlsRoot(hlsRoot)
                    .state(context.state())
                    .gopCacheBytes(settings.rtmp().gopCacheBytes())
                    .publisherGrace(settings.rtmp().publisherGrace())
                    .reactors(settings.reactors())
                    .clock(context.clock())
                    .start();
            started.push(manager);
            for (int i = 0; i < definitions.size(); i++) {
                try {
                    manager.put(definitions.get(i), "config").get(10, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof ForwardLoopException loop) {
                        // A loop with a workflow defined through the API: the file is what the user can change here.
                        throw new ConfigException(settings.workflows().get(i).where() + ": workflows: " + loop.getMessage()
                                + " (with the workflows defined through the API)");
                    }
                    throw e;
                }
            }
            RtmpServer rtmp;
            try {
                rtmp = RtmpServer.start(settings.rtmp(), manager, context.metrics());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(context.config().source() + ": rtmp.tls: " + e.getMessage());
            } catch (UncheckedIOException e) {
                throw new StartupException("cannot start the RTMP endpoint: " + e.getMessage(), e);
            }
            started.push(rtmp);
            WorkflowRoutes.register(context.routes(), manager);
            HlsRoutes.register(context.routes(), hlsRoot, settings.hls(), context.clock());
            context.routes().add(Method.GET, "/api/media", r -> {
                Map<String, Object> endpoint = new LinkedHashMap<>();
                endpoint.put("port", rtmp.port());
                endpoint.put("tlsPort", rtmp.tlsPort().isPresent() ? rtmp.tlsPort().getAsInt() : null);
                endpoint.put("connections", rtmp.connections());
                endpoint.put("publishers", rtmp.publishers());
                endpoint.put("players", rtmp.players());
                return ApiResponse.json(Map.of("rtmp", endpoint, "ffmpegProcesses", ffmpeg.processes().size()));
            });
        } catch (RuntimeException | Error e) {
            closeAll(started);
            throw e;
        } catch (Exception e) {
            closeAll(started);
            throw new StartupException("cannot start the config file's workflows: " + e, e);
        }
        return () -> closeAll(started);
    }

    private static void closeAll(Deque<AutoCloseable> started) {
        while (!started.isEmpty()) {
            try {
                started.pop().close();
            } catch (Exception e) {
                log.warn("closing part of the media feature failed: {}", e.toString());
            }
        }
    }
}
