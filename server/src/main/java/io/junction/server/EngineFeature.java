package io.junction.server;

import io.junction.core.feature.FeatureContext;
import io.junction.engine.Engine;
import io.junction.engine.EngineRoutes;
import io.junction.engine.EngineSettings;

import java.nio.file.Path;

/**
 * Starts the processing engine for the composition root: scripts on the raw stream into the processed stream, kept
 * in the state port (the files older servers wrote in {@code <data dir>/engine} are imported once), the plugins
 * folder ({@code [engine] plugins}, by default {@code plugins} beside the data directory), and its routes.
 */
final class EngineFeature extends NamedFeature<EngineSettings> {

    /** Where scripts' {@code exec} goes: the devices' modules. */
    private final DevicesFeature devices;

    EngineFeature(DevicesFeature devices) {
        super("engine", EngineSettings::read);
        this.devices = devices;
    }

    @Override
    public AutoCloseable start(FeatureContext context, EngineSettings settings) {
        io.junction.core.device.FunctionCalls calls = devices.calls();
        Path dataDir = context.dataDir();
        Path plugins = settings.plugins().map(Path::toAbsolutePath)
                .orElseGet(() -> (dataDir.getParent() != null ? dataDir.getParent() : dataDir).resolve("plugins"));
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
        return engine;
    }
}
