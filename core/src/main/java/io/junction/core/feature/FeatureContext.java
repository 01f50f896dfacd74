package io.junction.core.feature;

import io.junction.core.config.JunctionConfig;
import io.junction.core.device.DeviceDirectory;
import io.junction.core.device.DeviceFacts;
import io.junction.core.device.DevicePublisher;
import io.junction.core.egress.CommandSender;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;

import io.micrometer.core.instrument.MeterRegistry;

import java.nio.file.Path;
import java.time.Clock;
import java.util.function.Function;

/**
 * What the spine gives each {@link Feature} when the composition root starts it: the config, the ports, the hub, the
 * metrics registry, the routing table to add its routes to before HTTP starts, and the environment.
 *
 * @param config    the spine's settings, and every feature's checked settings ({@link JunctionConfig#settings(Class)})
 * @param facts     where a feature adds what it knows of devices, shown with their records
 * @param processed the processed stream: what scripts, drivers and pass-through rules produce
 * @param commands  egress: commands to devices by routing key, recorded in the raw stream
 * @param state     the state port: what a feature is configured with at run time and must keep across restarts
 * @param moduleStatus the module status port: modules' status variables, systems' lookups, modules' interfaces
 * @param dataDir   the absolute data directory; a feature keeps its files in a folder of its own under it
 */
public record FeatureContext(JunctionConfig config, Clock clock, EventHub hub, MessageStream raw, MessageStream processed,
                             StatusStore status, StateStore state, ModuleStatusStore moduleStatus,
                             DeviceDirectory devices, DeviceFacts facts, DevicePublisher publisher, CommandSender commands,
                             MeterRegistry metrics, RouteTable routes,
                             Path dataDir) {

    /**
     * The environment the config was read in, injected by the composition root (a variable's name to its value, or
     * null): where a secret named by an {@code ..._env} key and read at start is looked up. Never
     * {@code System.getenv}.
     */
    public Function<String, String> env() {
        return config.env();
    }
}
