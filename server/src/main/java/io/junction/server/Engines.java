package io.junction.server;

import io.junction.core.config.JunctionConfig;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.EngineSettings;
import io.junction.scaleout.kafka.KafkaStream;
import io.junction.scaleout.postgres.PostgresStateStore;
import io.junction.scaleout.redis.RedisModuleStatusStore;
import io.junction.scaleout.redis.RedisStatusStore;
import io.junction.store.log.LogStream;
import io.junction.store.state.SqliteStateStore;
import io.junction.store.status.EmbeddedModuleStatusStore;
import io.junction.store.status.EmbeddedStatusStore;

import io.micrometer.core.instrument.MeterRegistry;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Opens the adapter of each storage port that {@link EngineSettings} selects: the embedded one in the data directory,
 * or the one on Kafka, Redis or PostgreSQL. Every scale-out engine in use is a hub component named after it
 * ({@code kafka}, {@code redis}, {@code postgres}), failed while any of its adapters reports it away, so
 * {@code GET /api/health} names the engine that is missing. An engine that does not answer at start-up stops the
 * start with a sentence naming the engine, where it was looked for and the config key that says so.
 */
final class Engines {

    private final EngineSettings settings;
    private final EventHub hub;
    private final String source;
    private final Map<String, EngineComponent> components = new ConcurrentHashMap<>();

    Engines(EngineSettings settings, EventHub hub, String source) {
        this.settings = settings;
        this.hub = hub;
        this.source = source;
    }

    /** The stream {@code raw} or {@code processed}. */
    MessageStream stream(String name, JunctionConfig.Data data, MeterRegistry metrics) {
        return switch (settings.streams()) {
            case EMBEDDED -> LogStream.open(data, name, metrics);
            case KAFKA -> {
                EngineSettings.Kafka kafka = settings.kafka();
                yield open("kafka", "[streams] engine = \"kafka\" with [kafka] bootstrap = \"" + kafka.bootstrap() + "\"",
                        health -> KafkaStream.open(name, new KafkaStream.Settings(kafka.bootstrap(), kafka.topic(name), 1,
                                kafka.replication(), kafka.maxPending(), kafka.properties()), metrics, health));
            }
        };
    }

    /** The last message of every routing key, and what keeps it current with {@code raw}. */
    Status status(Path dataDir, MessageStream raw) {
        return switch (settings.status()) {
            case EMBEDDED -> {
                EmbeddedStatusStore store = EmbeddedStatusStore.open(dataDir);
                yield new Status(store, store.follow(raw));
            }
            case REDIS -> {
                RedisStatusStore store = open("redis", redisWhere(), health -> RedisStatusStore.open(settings.redis().url(), health));
                try {
                    yield new Status(store, store.follow(raw));
                } catch (RuntimeException e) {
                    store.close();
                    throw e;
                }
            }
        };
    }

    /** The status store and the follower that keeps it current; closing closes the follower, then the store. */
    record Status(StatusStore store, AutoCloseable follower) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            try {
                follower.close();
            } finally {
                store.close();
            }
        }
    }

    StateStore state(Path dataDir, Clock clock) {
        return switch (settings.state()) {
            case EMBEDDED -> SqliteStateStore.open(dataDir, clock);
            case POSTGRES -> {
                EngineSettings.Postgres pg = settings.postgres();
                yield open("postgres", "[state] engine = \"postgres\" with [postgres] url = \"" + pg.url() + "\"",
                        health -> PostgresStateStore.open(pg.url(), pg.user(), pg.password(), pg.pool(), clock, health));
            }
        };
    }

    ModuleStatusStore moduleStatus(StateStore state, Clock clock) {
        return switch (settings.status()) {
            case EMBEDDED -> EmbeddedModuleStatusStore.open(state, clock);
            case REDIS -> open("redis", redisWhere(), health -> RedisModuleStatusStore.open(settings.redis().url(), health));
        };
    }

    private String redisWhere() {
        return "[status] engine = \"redis\" with [redis] url at " + settings.redis().where();
    }

    /** What an adapter factory is: it gets the health of its engine. */
    @FunctionalInterface
    private interface Opener<T> {
        T open(EngineHealth health);
    }

    /** Opens an adapter on {@code engine}; its failure to connect becomes a start-up error naming where and why. */
    private <T> T open(String engine, String selectedBy, Opener<T> opener) {
        EngineHealth health = components.computeIfAbsent(engine, e -> new EngineComponent(hub.register(e))).source();
        try {
            T adapter = opener.open(health);
            health.up();
            return adapter;
        } catch (RuntimeException e) {
            health.down(String.valueOf(e.getMessage()));
            throw new StartupException(source + ": " + selectedBy + ", but " + e.getMessage()
                    + " (start the engines with './junction engines up', or fix the config)", e);
        }
    }

    /**
     * One engine's hub component: failed while any of its adapters reports the engine away, ready once all of them
     * reach it again. State changes are reported once, not on every repeated call.
     */
    private static final class EngineComponent {
        private final EventHub.Registration registration;
        private final Map<Object, String> down = new ConcurrentHashMap<>();
        private volatile Optional<String> reported = Optional.of("starting");

        EngineComponent(EventHub.Registration registration) {
            this.registration = registration;
        }

        EngineHealth source() {
            Object self = new Object();
            return new EngineHealth() {
                @Override
                public void up() {
                    down.remove(self);
                    report();
                }

                @Override
                public void down(String reason) {
                    down.put(self, reason);
                    report();
                }
            };
        }

        private synchronized void report() {
            // The monitor only orders two adapters' reports; no state is shared beyond the two maps.
            Optional<String> now = down.values().stream().findFirst();
            if (!now.equals(reported)) {
                reported = now;
                now.ifPresentOrElse(registration::failed, registration::ready);
            }
        }
    }
}
