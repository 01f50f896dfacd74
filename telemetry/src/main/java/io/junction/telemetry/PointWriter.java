package io.junction.telemetry;

import io.junction.core.RoutingKey;
import io.junction.core.hub.EventHub;
import io.junction.core.telemetry.Checkpoint;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TimeSpans;
import io.junction.core.telemetry.WriteResult;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;

import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one path by which points reach the store, from the stream writer and from line protocol alike: it refuses
 * points older than their raw retention, writes, counts, and tells live subscribers on the hub.
 */
final class PointWriter {

    private final TelemetryStore store;
    private final Retention retention;
    private final Clock clock;
    private final EventHub hub;
    private final Counter fromStream;
    private final Counter fromHttp;
    private final Counter converted;
    private final Counter diverted;
    private final Counter droppedRetention;
    private final Counter droppedFields;
    private final Counter droppedUndecodable;
    private final DistributionSummary batchSize;

    PointWriter(TelemetryStore store, Retention retention, Clock clock, EventHub hub, MeterRegistry metrics) {
        this.store = store;
        this.retention = retention;
        this.clock = clock;
        this.hub = hub;
        String written = "junction.telemetry.points.written";
        fromStream = Counter.builder(written).tag("source", "stream").description("points stored").register(metrics);
        fromHttp = Counter.builder(written).tag("source", "http").description("points stored").register(metrics);
        String changes = "junction.telemetry.type.changes";
        converted = Counter.builder(changes).tag("rule", "converted").description("values converted to their series' type").register(metrics);
        diverted = Counter.builder(changes).tag("rule", "diverted").description("values stored under <field>:<type>").register(metrics);
        String dropped = "junction.telemetry.points.dropped";
        droppedRetention = Counter.builder(dropped).tag("reason", "retention").description("points not stored").register(metrics);
        droppedFields = Counter.builder(dropped).tag("reason", "unsupported").description("points not stored").register(metrics);
        droppedUndecodable = Counter.builder(dropped).tag("reason", "undecodable").description("points not stored").register(metrics);
        batchSize = DistributionSummary.builder("junction.telemetry.batch.size").description("points per write batch").register(metrics);
    }

    /** Now, in nanoseconds since the epoch. */
    long now() {
        Instant i = clock.instant();
        return i.getEpochSecond() * TimeSpans.NS_PER_S + i.getNano();
    }

    /** False for a point older than its raw retention: it would be deleted at once, so it is not stored. */
    boolean withinRetention(Point p, long now) {
        return p.ts() >= retention.rawCutoff(p.series().key(), now);
    }

    void droppedByRetention(long n) {
        droppedRetention.increment(n);
    }

    void droppedUnsupported(long n) {
        droppedFields.increment(n);
    }

    void droppedUndecodable() {
        droppedUndecodable.increment();
    }

    WriteResult write(List<Point> points, Optional<Checkpoint> checkpoint, boolean fromHttpWrite) {
        WriteResult r = store.write(points, checkpoint);
        (fromHttpWrite ? fromHttp : fromStream).increment(r.written());
        if (r.converted() > 0) {
            converted.increment(r.converted());
        }
        if (r.diverted() > 0) {
            diverted.increment(r.diverted());
        }
        if (!points.isEmpty()) {
            batchSize.record(points.size());
            publish(points);
        }
        return r;
    }

    /** One hub event per run of points with the same routing key, tags and time (one message or one line). */
    private void publish(List<Point> points) {
        int start = 0;
        for (int i = 1; i <= points.size(); i++) {
            if (i == points.size() || !sameGroup(points.get(start), points.get(i))) {
                Point first = points.get(start);
                String key = first.series().key().value();
                if (key.length() + TelemetryEvent.PREFIX.length() <= RoutingKey.MAX_LENGTH) {
                    Map<String, Object> fields = new LinkedHashMap<>();
                    for (int k = start; k < i; k++) {
                        Point p = points.get(k);
                        fields.put(p.series().field(), p.value().toJava());
                    }
                    hub.publish(new TelemetryEvent(key, first.series().tags().asMap(), first.ts() / TimeSpans.NS_PER_MS,
                            fields, RoutingKey.of(TelemetryEvent.PREFIX + key)));
                }
                start = i;
            }
        }
    }

    private static boolean sameGroup(Point a, Point b) {
        return a.ts() == b.ts() && a.series().key().equals(b.series().key()) && a.series().tags().equals(b.series().tags());
    }
}
