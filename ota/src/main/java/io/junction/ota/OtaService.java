package io.junction.ota;

import io.junction.core.RoutingPattern;
import io.junction.core.device.DeviceEvent;
import io.junction.core.device.DevicePublisher;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFollower;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The OTA feature: firmware packages, groups, staged rollouts, the device protocol over MQTT and HTTP downloads.
 * It wires three parts: the {@link Rollouts} actor (which owns and changes everything), the read-only
 * {@link Catalogue} it publishes (what downloads and listings read), and a {@link StreamFollower} that hands the
 * actor the device requests ({@code <uid>/ota/p}) of the raw stream at least once and in order, from the offset the
 * OTA state covers. A request that was acknowledged is therefore never lost, however far behind the actor falls.
 */
public final class OtaService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OtaService.class);

    private static final int FOLLOWER_CAPACITY = 4096;

    private final OtaSettings settings;
    private final Clock clock;
    private final Optional<Signer> signer;
    final ImageStore images;
    final Rollouts rollouts;
    final Counter httpBytes;
    private final StreamFollower follower;
    private final EventHub.Subscription connections;

    private OtaService(Builder b) throws IOException {
        this.settings = b.settings;
        this.clock = b.clock;
        this.signer = b.signer;
        Files.createDirectories(b.dir);
        this.images = new ImageStore(b.dir.resolve("images"), settings.imageCacheBytes());
        this.httpBytes = Counter.builder("junction.ota.http.bytes").description("Image bytes sent over HTTP").register(b.metrics);
        OtaState store = new OtaState(b.state);
        OtaState.Loaded loaded = store.load(b.dir.resolve("state.json"));
        long end = b.raw.endOffset();
        // Without a recorded offset, requests from now on count; one past the end means the stream was replaced.
        long from = loaded.offset().map(o -> o <= end ? Math.max(o, b.raw.startOffset()) : end).orElse(end);
        this.rollouts = new Rollouts(settings, b.clock, b.hub, b.publisher, b.metrics, images, store, loaded, from, end);
        try {
            this.follower = StreamFollower.atLeastOnce(b.raw, "ota", new CommittedOffset() {
                @Override
                public long load() {
                    return from;
                }

                @Override
                public void commit(long next) {
                    rollouts.followed(next);   // recorded with the state it covers, by the actor
                }
            }, m -> isRequest(m.topic()), FOLLOWER_CAPACITY, rollouts::apply);
        } catch (RuntimeException e) {
            rollouts.close();
            throw e;
        }
        Gauge.builder("junction.ota.lag", follower, StreamFollower::lag)
                .description("Raw-stream entries the OTA service has not looked at yet").register(b.metrics);
        this.connections = b.hub.subscribe(RoutingPattern.of("device.connected"), 4096, e -> {
            if (e instanceof DeviceEvent d && d.connected()) {
                rollouts.connected(d.uid());
            }
        });
        log.info("ota following the raw stream from offset={} signing={}", from, signer.isPresent());
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Adds the OTA routes: packages, images, rollouts, groups and links, devices, the signing key. */
    public void register(RouteTable routes) {
        new OtaRoutes(this).register(routes);
    }

    /**
     * What the OTA service adds to a device's record: {@code {"firmwareVersion": "1.2.3"}} when the device said which
     * version it runs (or installed one), else nothing. Safe to call from any thread.
     */
    public Map<String, Object> deviceFacts(String uid) {
        return rollouts.deviceFacts(uid);
    }

    /** Stops taking device requests, writes the state and stops the actor. */
    @Override
    public void close() {
        connections.close();
        follower.close();
        rollouts.close();
        log.info("ota stopped");
    }

    Catalogue catalogue() {
        return rollouts.catalogue();
    }

    Optional<Signer> signer() {
        return signer;
    }

    OtaSettings settings() {
        return settings;
    }

    long now() {
        return clock.millis();
    }

    static boolean isRequest(String topic) {
        String suffix = Rollouts.REQUEST_SUFFIX;
        return topic.endsWith(suffix) && topic.length() > suffix.length() && topic.indexOf('/') == topic.length() - suffix.length();
    }

    /** How {@link OtaService} is made; every part but {@code signer} is required. */
    public static final class Builder {
        private OtaSettings settings;
        private Clock clock;
        private EventHub hub;
        private MessageStream raw;
        private DevicePublisher publisher;
        private MeterRegistry metrics;
        private StateStore state;
        private Path dir;
        private Optional<Signer> signer = Optional.empty();

        private Builder() {
        }

        public Builder settings(OtaSettings s) {
            this.settings = s;
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = c;
            return this;
        }

        public Builder hub(EventHub h) {
            this.hub = h;
            return this;
        }

        /** The raw stream: device requests are read from it. */
        public Builder raw(MessageStream s) {
            this.raw = s;
            return this;
        }

        public Builder publisher(DevicePublisher p) {
            this.publisher = p;
            return this;
        }

        public Builder metrics(MeterRegistry m) {
            this.metrics = m;
            return this;
        }

        /** The state port: packages, groups, rollouts and devices are kept there. */
        public Builder state(StateStore s) {
            this.state = s;
            return this;
        }

        /** The folder of the OTA files ({@code <data>/ota}): the images, and the old state file to import. */
        public Builder dir(Path d) {
            this.dir = d;
            return this;
        }

        public Builder signer(Optional<Signer> s) {
            this.signer = Objects.requireNonNull(s);
            return this;
        }

        /** Loads the state (importing the old state file once), starts the actor and follows the raw stream. */
        public OtaService start() throws IOException {
            Objects.requireNonNull(settings, "settings");
            Objects.requireNonNull(clock, "clock");
            Objects.requireNonNull(hub, "hub");
            Objects.requireNonNull(raw, "raw");
            Objects.requireNonNull(publisher, "publisher");
            Objects.requireNonNull(metrics, "metrics");
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(dir, "dir");
            return new OtaService(this);
        }
    }
}
