package io.junction.server;

import io.junction.api.ApiServer;
import io.junction.api.SpineRoutes;
import io.junction.core.config.ConfigException;
import io.junction.core.config.ConfigLoader;
import io.junction.core.config.JunctionConfig;
import io.junction.core.config.Section;
import io.junction.core.feature.Feature;
import io.junction.core.feature.FeatureContext;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.mqtt.broker.BrokerSettings;
import io.junction.mqtt.broker.BrokerUser;
import io.junction.mqtt.broker.ClientInfo;
import io.junction.mqtt.broker.ConnectionListener;
import io.junction.mqtt.broker.DisconnectReason;
import io.junction.mqtt.broker.MqttBroker;
import io.junction.mqtt.ingress.BrokerDevices;
import io.junction.core.device.DeviceEvent;
import io.junction.core.device.DeviceFacts;
import io.junction.mqtt.ingress.Egress;
import io.junction.mqtt.ingress.Ingress;
import io.junction.mqtt.ingress.TopicMapping;
import io.junction.ota.OtaSettings;
import io.junction.scaleout.EngineSettings;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The composition root: builds every component with {@code new}, in order, and closes them in reverse. A reader can
 * follow start-up from top to bottom here. Adapters are chosen from the config; nothing else knows them all.
 */
public final class Junction implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Junction.class);

    private final Deque<AutoCloseable> closeInReverse = new ArrayDeque<>();
    private MqttBroker broker;
    private ApiServer api;
    private MessageStream rawStream;
    private RouteTable routes;

    private Junction() {
    }

    /**
     * The features of a node, in start order: auth first (HTTP authenticates with its accounts), the devices before
     * the engine (scripts exec on modules). New instances for each node: a started feature keeps what it offers the
     * features after it.
     */
    private static List<Feature<?>> features(AuthFeature auth, DevicesFeature devices) {
        return List.of(auth, devices, new EngineFeature(devices), new TelemetryFeature(), new OtaFeature(), new MediaFeature());
    }

    /**
     * The settings the spine reads beyond its own sections: which engine holds each storage port. They are checked
     * with the features' (so {@code junction config check} covers them) but opened by the spine, before any feature.
     */
    private static final class EnginesSection extends NamedFeature<EngineSettings> {
        EnginesSection() {
            super("engines", EngineSettings::read);
        }

        @Override
        public AutoCloseable start(FeatureContext context, EngineSettings settings) {
            throw new IllegalStateException("the engines are opened by the spine, not started as a feature");
        }
    }

    /**
     * A loader of the config file that knows the spine's sections and every feature's (and rejects any other), and
     * checks them all; {@code env} is the environment every secret is looked up in, at load and at start.
     */
    public static ConfigLoader configLoader(Map<String, String> env) {
        Map<String, String> copy = Map.copyOf(env);
        List<Feature<?>> sections = new java.util.ArrayList<>(features(new AuthFeature(), new DevicesFeature()));
        sections.add(0, new EnginesSection());
        return new ConfigLoader(copy::get, sections);
    }

    /**
     * Starts a node. Throws {@link ConfigException} when the config cannot work (e.g. a mapping that cannot be
     * reversed) and {@link StartupException} when something outside it stops the start (a port in use, a locked data
     * directory); whatever had started by then is closed again. {@code config} comes from {@link #configLoader}, or
     * from a loader of the spine alone when the file has no feature sections (the features then get their defaults).
     */
    public static Junction start(JunctionConfig config) {
        Junction node = new Junction();
        try {
            node.wire(config);
            return node;
        } catch (RuntimeException e) {
            node.close();
            throw e;
        }
    }

    private void wire(JunctionConfig read) {
        long started = System.nanoTime();
        AuthFeature auth = new AuthFeature();
        List<Feature<?>> features = features(auth, new DevicesFeature());
        EnginesSection enginesSection = new EnginesSection();
        JunctionConfig config = withEveryFeature(read, concat(enginesSection, features));
        Clock clock = Clock.systemUTC();
        PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        closeInReverse.push(metrics::close);
        new JvmMemoryMetrics().bindTo(metrics);
        new JvmThreadMetrics().bindTo(metrics);
        new ProcessorMetrics().bindTo(metrics);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(metrics);
        closeInReverse.push(gc);

        EventHub hub = new EventHub(clock);
        closeInReverse.push(hub);
        EventHub.Registration storeComponent = hub.register("store");
        EventHub.Registration mqttComponent = hub.register("mqtt");
        EventHub.Registration httpComponent = hub.register("http");

        TopicMapping mapping;
        try {
            mapping = new TopicMapping(config.mapping());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(config.source() + ": " + e.getMessage());
        }

        // Storage: lock the data directory, open the streams, restore the status and keep it current, open the state,
        // each on the engine the config selects (embedded in the data directory by default).
        Path dataDir = config.data().dir().toAbsolutePath();
        lockDataDirectory(dataDir);
        EngineSettings engineSettings = (EngineSettings) config.features().get(enginesSection.name());
        Engines engines = new Engines(engineSettings, hub, config.source());
        MessageStream raw = engines.stream("raw", config.data(), metrics);
        closeInReverse.push(raw);
        rawStream = raw;
        MessageStream processed = engines.stream("processed", config.data(), metrics);
        closeInReverse.push(processed);
        Engines.Status statusAndFollower = engines.status(dataDir, raw);
        closeInReverse.push(statusAndFollower);
        StatusStore status = statusAndFollower.store();
        StateStore state = engines.state(dataDir, clock);
        closeInReverse.push(state);
        ModuleStatusStore moduleStatus = engines.moduleStatus(state, clock);
        closeInReverse.push(moduleStatus);
        storeComponent.ready();
        if (engineSettings.anyScaleOut()) {
            log.info("engines: streams={} status={} state={}", engineSettings.streams().name().toLowerCase(java.util.Locale.ROOT),
                    engineSettings.status().name().toLowerCase(java.util.Locale.ROOT),
                    engineSettings.state().name().toLowerCase(java.util.Locale.ROOT));
        }

        // MQTT: the broker hands every publish to ingress, which acknowledges once the message is durable.
        broker = startBroker(config.mqtt(), new Ingress(mapping, raw, metrics), metrics, clock);
        closeInReverse.push(broker);
        broker.addConnectionListener(new ConnectionListener() {
            @Override
            public void connected(ClientInfo client) {
                hub.publish(new DeviceEvent(client.deviceUid(), client.clientId(), true, ""));
            }

            @Override
            public void disconnected(ClientInfo client, DisconnectReason reason) {
                hub.publish(new DeviceEvent(client.deviceUid(), client.clientId(), false, reason.name().toLowerCase(java.util.Locale.ROOT)));
            }
        });
        mqttComponent.ready();

        // HTTP: the routing table, filled by each feature, served with the WebSocket and /metrics.
        RouteTable routes = new RouteTable();
        this.routes = routes;
        BrokerDevices devices = new BrokerDevices(broker);
        DeviceFacts facts = new DeviceFacts();
        Egress egress = new Egress(mapping, raw, broker, clock);
        SpineRoutes.builder()
                .stream(raw)
                .stream(processed)
                .status(status)
                .devices(devices)
                .facts(facts)
                .commands(egress)
                .hub(hub)
                .clock(clock)
                .build()
                .register(routes);

        // Features: each registers with the hub, adds its routes and consumes the ports; started after the spine, in
        // order, and closed before it, in reverse.
        FeatureContext context = new FeatureContext(config, clock, hub, raw, processed, status, state, moduleStatus, devices, facts,
                broker::publish, egress, metrics, routes, dataDir);
        for (Feature<?> feature : features) {
            startFeature(feature, context);
        }

        try {
            api = ApiServer.builder()
                    .host(config.http().host())
                    .port(config.http().port())
                    .routes(routes)
                    .hub(hub)
                    .metrics(metrics)
                    .authenticator(auth.accounts())
                    .liveStream(raw)
                    .liveStream(processed)
                    .liveQueue(config.live().queue())
                    // Firmware images are uploaded as request bodies.
                    .maxBodyBytes((int) Math.max(1 << 20,
                            Math.min(Integer.MAX_VALUE - 1, config.settings(OtaSettings.class).maxImageBytes())))
                    .start();
        } catch (RuntimeException e) {
            throw new StartupException("cannot start the HTTP server on " + config.http().host() + ":" + config.http().port()
                    + ": " + e.getMessage(), e);
        }
        closeInReverse.push(api);
        httpComponent.ready();

        log.info("junction ready in {} ms: mqtt={}:{}{} http={}:{} data={} fsync={}",
                (System.nanoTime() - started) / 1_000_000, config.mqtt().host(), broker.port(),
                broker.tlsPort().isPresent() ? " mqtts=" + broker.tlsPort().getAsInt() : "",
                config.http().host(), api.port(), dataDir, config.data().fsync().name().toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * {@code config} with the settings of every feature. A feature the file was read without had none of its sections
     * (a loader rejects the sections it does not know), so it gets its defaults: its check of an empty file, in the
     * environment the file was read in.
     */
    private static List<Feature<?>> concat(Feature<?> first, List<Feature<?>> rest) {
        List<Feature<?>> all = new java.util.ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    private static JunctionConfig withEveryFeature(JunctionConfig config, List<Feature<?>> features) {
        Map<String, Object> settings = new LinkedHashMap<>();
        for (Feature<?> feature : features) {
            Object checked = config.features().get(feature.name());
            settings.put(feature.name(),
                    checked != null ? checked : feature.check(Section.parse(config.source(), "", config.env())));
        }
        return new JunctionConfig(config.source(), config.mqtt(), config.http(), config.data(), config.mapping(),
                config.live(), settings, config.env());
    }

    /**
     * Registers {@code feature} with the hub under its name, starts it with its checked settings and marks it ready;
     * when it throws, marks it failed (the caller closes what started before). Once started, it is closed with the
     * node, in reverse order, and then marked stopped.
     */
    private <S> void startFeature(Feature<S> feature, FeatureContext context) {
        @SuppressWarnings("unchecked") // the feature's own check made these settings
        S settings = (S) context.config().features().get(feature.name());
        EventHub.Registration component = context.hub().register(feature.name());
        AutoCloseable closer;
        try {
            closer = feature.start(context, settings);
        } catch (RuntimeException | Error e) {
            component.failed(e.getMessage() == null ? e.toString() : e.getMessage());
            throw e;
        } catch (Exception e) {
            component.failed(e.toString());
            throw new StartupException("cannot start " + feature.name() + ": " + e.getMessage(), e);
        }
        closeInReverse.push(() -> {
            try {
                closer.close();
            } finally {
                component.stopped();
            }
        });
        component.ready();
    }

    private static MqttBroker startBroker(JunctionConfig.Mqtt mqtt, Ingress ingress, PrometheusMeterRegistry metrics, Clock clock) {
        Map<String, BrokerUser> users = new LinkedHashMap<>();
        for (JunctionConfig.User u : mqtt.users().values()) {
            users.put(u.username(), new BrokerUser(u.passwordHash(), u.device(), u.publish(), u.subscribe()));
        }
        BrokerSettings.Builder settings = BrokerSettings.builder()
                .host(mqtt.host())
                .port(mqtt.port())
                .anonymous(mqtt.anonymous())
                .users(users)
                .maxPayloadBytes(mqtt.maxPayloadBytes())
                .receiveMaximum(mqtt.receiveMaximum())
                .maxQueuedPerSession(mqtt.sessionQueue());
        mqtt.tls().ifPresent(t -> settings.tls(new BrokerSettings.Tls(t.port(), t.cert(), t.key(), t.keyPassword())));
        try {
            return MqttBroker.start(settings.build(), ingress, metrics, clock);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("mqtt.tls: " + e.getMessage());
        } catch (RuntimeException e) {
            throw new StartupException("cannot start the MQTT broker: " + e.getMessage(), e);
        }
    }

    /** One process per data directory: a second one would corrupt the log. */
    private void lockDataDirectory(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
            FileChannel channel = FileChannel.open(dataDir.resolve("junction.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                throw new StartupException("the data directory " + dataDir + " is in use by another Junction process; "
                        + "stop it or give this one another [data] dir", null);
            }
            closeInReverse.push(channel);
        } catch (IOException e) {
            throw new StartupException("cannot use the data directory " + dataDir + ": " + e.getMessage(), e);
        }
    }

    public int mqttPort() {
        return broker.port();
    }

    public int httpPort() {
        return api.port();
    }

    /** The raw stream, for end-to-end tests that follow it as a feature does. */
    MessageStream raw() {
        return rawStream;
    }

    /** The routing table every feature registered its routes in (read by the test that checks docs/http-api.md). */
    RouteTable routes() {
        return routes;
    }

    /** Closes every component in the reverse order of start-up: HTTP, MQTT, then storage, so nothing acknowledged is lost. */
    @Override
    public void close() {
        boolean started = api != null;
        while (!closeInReverse.isEmpty()) {
            AutoCloseable c = closeInReverse.pop();
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing {} failed: {}", c.getClass().getSimpleName(), e.toString());
            }
        }
        if (started) {
            log.info("junction stopped");
        }
    }
}
