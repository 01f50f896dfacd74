package io.junction.server;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;
import io.junction.devices.DevicesSettings;
import io.junction.engine.EngineSettings;
import io.junction.core.device.FunctionCalls;
import io.junction.core.http.Access;
import io.junction.core.feature.FeatureContext;
import io.junction.devices.DeviceRoutes;
import io.junction.devices.builtin.VirtualDriver;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.JavaDriverType;
import io.junction.devices.driver.MqttDriverType;
import io.junction.devices.jobs.Jobs;
import io.junction.devices.live.RealtimeSocket;
import io.junction.devices.model.DeviceModel;
import io.junction.devices.plugins.PluginLoader;
import io.junction.devices.plugins.PluginRoutes;

import java.nio.file.Path;

/**
 * Starts the live model of devices and rooms for the composition root: the drivers (built-in, generic MQTT ones from
 * {@code [[drivers]]}, plugin jars, and those defined through the API, kept in the state port), the modules and systems
 * (in the state port; their status behind the module status port), durable jobs in
 * {@code <data dir>/jobs}, their routes and the real-time WebSocket. Every module that was running is started again before the feature says it is ready.
 */
final class DevicesFeature extends NamedFeature<DevicesSettings> {

    /** Where PlaceOS front-ends open the real-time socket; both paths serve the same protocol. */
    static final String WEBSOCKET = "/api/engine/v2/websocket";
    static final String WEBSOCKET_CONTROL = "/api/engine/v2/systems/control";

    /** Exec on modules, offered to the engine (scripts' {@code exec}); there once the feature has started. */
    private FunctionCalls calls;

    /** Function calls on the modules, for the features started after this one. */
    FunctionCalls calls() {
        if (calls == null) {
            throw new IllegalStateException("the devices feature has not started");
        }
        return calls;
    }

    /** The generic MQTT drivers of {@code [[drivers]]}; a wrong one is a {@link ConfigException} naming file and line. */
    static java.util.List<MqttDriverType> configDrivers(DevicesSettings settings) {
        java.util.List<MqttDriverType> list = new java.util.ArrayList<>();
        for (DevicesSettings.Definition d : settings.drivers()) {
            try {
                list.add(MqttDriverType.parse(d.spec(), d.where()));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(d.where() + ": drivers: " + e.getMessage());
            }
        }
        return list;
    }

    DevicesFeature() {
        super("devices", DevicesSettings::read);
    }

    /**
     * Reads {@code [devices]}, {@code [[drivers]]} and {@code [[jobs]]} and checks each driver and job as far as can be
     * done without starting anything: its shape, types and placeholders. Whether a job's functions exist is checked at
     * start, once the drivers are loaded.
     */
    @Override
    public DevicesSettings check(Section root) {
        DevicesSettings settings = super.check(root);
        configDrivers(settings);
        for (DevicesSettings.Definition d : settings.jobs()) {
            try {
                io.junction.devices.jobs.JobDefinition.parse(d.spec(), d.where());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(e.getMessage());
            }
        }
        return settings;
    }

    @Override
    public AutoCloseable start(FeatureContext context, DevicesSettings settings) {
        DriverCatalog drivers = new DriverCatalog(context.clock());
        drivers.put(JavaDriverType.of(VirtualDriver.class, "built-in"));
        configDrivers(settings).forEach(drivers::put);
        Path dataDir = context.dataDir();
        // Driver jars sit in the same plugins folder as the engine's .wasm modules unless [devices] plugins says otherwise.
        Path pluginsDir = settings.plugins().or(() -> context.config().settings(EngineSettings.class).plugins())
                .map(Path::toAbsolutePath)
                .orElseGet(() -> (dataDir.getParent() != null ? dataDir.getParent() : dataDir).resolve("plugins"));
        PluginLoader plugins = new PluginLoader(pluginsDir, drivers, context.metrics());
        try {
            plugins.start();
        } catch (java.io.IOException e) {
            throw new StartupException("cannot read the plugins folder " + pluginsDir + ": " + e.getMessage(), e);
        }
        DeviceModel model = DeviceModel.builder()
                .dir(dataDir.resolve("devices"))
                .state(context.state())
                .status(context.moduleStatus())
                .drivers(drivers)
                .commands(context.commands())
                .clock(context.clock())
                .metrics(context.metrics())
                .execTimeoutMillis(settings.execTimeoutMillis())
                .hub(context.hub())
                .open();
        model.start(context.raw());
        // Jobs start after the modules (recovery re-applies steps on them) and stop before them (their neutral calls
        // need running modules; a job stopped by shutdown stays resumable).
        Jobs jobs;
        try {
            jobs = Jobs.builder(dataDir.resolve("jobs"), model, drivers)
                    .configJobs(settings.jobs())
                    .hub(context.hub())
                    .clock(context.clock())
                    .metrics(context.metrics())
                    .build()
                    .start();
        } catch (RuntimeException e) {
            model.close();
            plugins.close();
            throw e;
        }
        jobs.register(context.routes());
        new DeviceRoutes(model, drivers).register(context.routes());
        new PluginRoutes(plugins).register(context.routes());
        RealtimeSocket socket = new RealtimeSocket(model);
        context.routes().socket(WEBSOCKET, Access.USER, socket);
        context.routes().socket(WEBSOCKET_CONTROL, Access.USER, socket);
        calls = model;
        return () -> {
            jobs.close();
            model.close();
            plugins.close();
        };
    }
}
