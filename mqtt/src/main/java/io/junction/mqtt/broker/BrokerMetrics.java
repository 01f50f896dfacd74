package io.junction.mqtt.broker;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** The broker's meters, created once at start so that the per-message path only increments. */
final class BrokerMetrics {

    /** Why the broker refused something a client sent (tag {@code reason} of {@code junction.mqtt.rejected}). */
    enum Rejected {
        MALFORMED("malformed"),
        PROTOCOL("protocol"),
        UNSUPPORTED_VERSION("unsupported_version"),
        CLIENT_ID("client_id"),
        AUTH("auth"),
        TLS("tls"),
        LIMIT("limit"),
        ACL("acl"),
        TOO_LARGE("too_large"),
        BAD_TOPIC("bad_topic"),
        BAD_UTF8("bad_utf8"),
        INGEST_ERROR("ingest_error"),
        INGEST_OVERLOADED("ingest_overloaded");

        final String tag;

        Rejected(String tag) {
            this.tag = tag;
        }
    }

    /** Why a message that should have gone to a subscriber did not (tag {@code reason} of {@code junction.mqtt.drops}). */
    enum Drop {
        /** The session's queue was full; the oldest queued message was dropped. */
        QUEUE_FULL("queue_full"),
        /** A QoS 0 message for a client whose socket is not keeping up. */
        SLOW_CONSUMER("slow_consumer"),
        /** Larger than the maximum packet size the MQTT 5 client announced. */
        TOO_LARGE_FOR_CLIENT("too_large_for_client");

        final String tag;

        Drop(String tag) {
            this.tag = tag;
        }
    }

    final Counter messagesIn;
    final Counter messagesOut;
    final Counter bytesIn;
    final Counter bytesOut;
    final AtomicInteger connections = new AtomicInteger();
    private final Map<Rejected, Counter> rejected = new EnumMap<>(Rejected.class);
    private final Map<Drop, Counter> drops = new EnumMap<>(Drop.class);
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();

    BrokerMetrics(MeterRegistry registry, Supplier<Number> sessions, Supplier<Number> retained, Supplier<Number> subscriptions) {
        this.registry = registry;
        messagesIn = counter("junction.mqtt.messages.in", "PUBLISH packets received from clients");
        messagesOut = counter("junction.mqtt.messages.out", "PUBLISH packets sent to clients");
        bytesIn = counter("junction.mqtt.bytes.in", "MQTT bytes read from clients");
        bytesOut = counter("junction.mqtt.bytes.out", "MQTT bytes written to clients");
        for (Rejected r : Rejected.values()) {
            rejected.put(r, keep(Counter.builder("junction.mqtt.rejected").tag("reason", r.tag)
                    .description("Packets or connections the broker refused").register(registry)));
        }
        for (Drop d : Drop.values()) {
            drops.put(d, keep(Counter.builder("junction.mqtt.drops").tag("reason", d.tag)
                    .description("Messages not delivered to a subscriber").register(registry)));
        }
        keep(Gauge.builder("junction.mqtt.connections", connections, AtomicInteger::get)
                .description("Open client connections that completed CONNECT").register(registry));
        keep(Gauge.builder("junction.mqtt.sessions", sessions).description("Sessions held, online or not").register(registry));
        keep(Gauge.builder("junction.mqtt.retained", retained).description("Retained messages held").register(registry));
        keep(Gauge.builder("junction.mqtt.subscriptions", subscriptions).description("Subscriptions held").register(registry));
    }

    void rejected(Rejected reason) {
        rejected.get(reason).increment();
    }

    void dropped(Drop reason) {
        drops.get(reason).increment();
    }

    /** Removes the broker's meters, so that a new broker on the same registry starts clean. */
    void close() {
        for (Meter m : meters) {
            registry.remove(m);
        }
        meters.clear();
    }

    private Counter counter(String name, String description) {
        return keep(Counter.builder(name).description(description).register(registry));
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        return meter;
    }
}
