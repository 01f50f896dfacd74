package io.junction.server;

import io.junction.core.config.EngineSettings;
import io.junction.core.hub.EventHub;
import io.junction.engine.Engine;
import io.junction.engine.EngineRoutes;

import java.nio.file.Path;

/**
 * Starts the processing engine for the composition root: scripts on the raw stream into the processed stream, kept
 * in the state port (the files older servers wrote in {@code <data dir>/engine} are imported once), the plugins
 * folder ({@code [engine] plugins}, by default {@code plugins} beside the data directory), and its routes.
 */
final class EngineFeature {

    private EngineFeature() {
    }

    /** {@code calls} is where scripts' {@code exec} goes: the devices' modules. */
    static AutoCloseable start(FeatureContext context, io.junction.core.device.FunctionCalls calls) {
        EngineSettings settings = context.config().engine();
        Path dataDir = context.dataDir();
        Path plugins = settings.plugins().map(Path::toAbsolutePath)
                .orElseGet(() -> (dataDir.getParent() != null ? dataDir.getParent() : dataDir).resolve("plugins"));
        EventHub.Registration component = context.hub().register("engine");
        Engine engine = Engine.builder()
                .streams(context.raw(), context.processed())
                .state(context.state())
                .clock(context.clock())
                .status(context.status())
                .hub(context.hub())
                .calls(calls)
                .metrics(context.metrics())
                .settings(settings)
                .dir(dataDir.resolve("engine"))
                .plugins(plugins)
                .start();
        new EngineRoutes(engine, context.raw()).register(context.routes());
        component.ready();
        return () -> {
            engine.close();
            component.stopped();
        };
    }
}
