package io.junction.telemetry;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.hub.EventHub;
import io.junction.core.telemetry.Aggregate;
import io.junction.core.telemetry.Checkpoint;
import io.junction.core.telemetry.Fn;
import io.junction.core.telemetry.LateBucket;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.Sample;
import io.junction.core.telemetry.Series;
import io.junction.core.telemetry.SeriesFilter;
import io.junction.core.telemetry.Source;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.Watermark;
import io.junction.core.telemetry.WriteResult;
import io.junction.core.testing.MemoryStream;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The writer on the stream follower: every telemetry message becomes its points once, across failures and restarts. */
class TelemetryWriterTest {

    private static final long TS = 1_767_225_600_000L;
    private final Clock clock = Clock.fixed(Instant.ofEpochMilli(TS + 1_000), ZoneOffset.UTC);
    private final EventHub hub = new EventHub(clock);
    /** The last started writer's meters. */
    private SimpleMeterRegistry metrics;
    private final MemoryStream raw = new MemoryStream("raw");
    private final RecordingStore store = new RecordingStore();
    private final List<TelemetryWriter> writers = new ArrayList<>();

    @AfterEach
    void close() {
        writers.forEach(TelemetryWriter::close);
        hub.close();
    }

    private TelemetryWriter start(int batch) {
        metrics = new SimpleMeterRegistry();
        PointWriter out = new PointWriter(store, Retention.DEFAULT, clock, hub, new SimpleMeterRegistry());
        TelemetryWriter w = new TelemetryWriter(raw, store, out,
                new MessagePoints(new Flattener(TelemetrySettings.Strings.FIELD, Set.of(), 100)),
                new TelemetryWriter.Selection(List.of(RoutingPattern.ALL), Set.of("status"), false), batch, 64, metrics);
        writers.add(w);
        w.start();
        return w;
    }

    /** Appends {@code n} messages: even sequence numbers are telemetry (status), odd ones are commands (not stored). */
    private List<Long> append(int from, int n) {
        List<Long> wanted = new ArrayList<>();
        for (int seq = from; seq < from + n; seq++) {
            String kind = seq % 2 == 0 ? "status" : "command";
            raw.append(new Message("m" + seq, TS, "t/seq", RoutingKey.of("t.seq"), "t", kind, "{\"seq\":" + seq + "}"));
            if (seq % 2 == 0) {
                wanted.add((long) seq);
            }
        }
        return wanted;
    }

    @Test
    void everyTelemetryMessageIsStoredOnceWithItsOffsetAndARestartResumesAtTheStoredCheckpoint() {
        List<Long> wanted = new ArrayList<>(append(0, 300));
        TelemetryWriter first = start(50);
        wanted.addAll(append(300, 200));
        await().atMost(Duration.ofSeconds(20)).until(() -> store.seqs().size() == wanted.size());
        first.close();
        long checkpoint = store.checkpoint("writer:raw").orElseThrow();
        assertThat(checkpoint).as("the offset after the last telemetry message (or after the command behind it)").isBetween(499L, 500L);

        // Written while the writer is down: the next one reads them from the stream, from the stored checkpoint.
        wanted.addAll(append(500, 100));
        start(50);
        await().atMost(Duration.ofSeconds(20)).until(() -> store.seqs().size() >= wanted.size());
        await().atMost(Duration.ofSeconds(5)).until(() -> store.checkpoint("writer:raw").orElse(0) >= 599);
        assertThat(store.seqs()).as("each telemetry message stored once, commands never").containsExactlyElementsOf(wanted);
        assertThat(store.batchSizes()).as("no transaction holds more messages than [telemetry] batch").allMatch(n -> n <= 50);
        assertThat(store.checkpoints()).as("each transaction stores the offset after its last message").isSorted();
        await().atMost(Duration.ofSeconds(5)).until(() -> metrics.get("junction.telemetry.writer.lag").gauge().value() == 0);
    }

    @Test
    void aBatchWhoseStoringFailedHalfwayIsGivenAgainAndNothingIsStoredTwice() {
        List<Long> wanted = append(0, 200);
        store.failWrite.set(3);
        start(10);
        await().atMost(Duration.ofSeconds(20)).until(() -> store.seqs().size() >= wanted.size());
        assertThat(store.failures.get()).as("the third transaction failed once").isEqualTo(1);
        assertThat(store.seqs()).as("the two transactions stored before the failure are not stored again").containsExactlyElementsOf(wanted);
    }

    /** A telemetry store that keeps what the writer stores in memory and can fail one write. */
    private static final class RecordingStore implements TelemetryStore {
        private final List<Long> seqs = new ArrayList<>();
        private final List<Integer> batchSizes = new ArrayList<>();
        private final List<Long> checkpoints = new ArrayList<>();
        private final Map<String, Long> stored = new HashMap<>();
        private final AtomicInteger writes = new AtomicInteger();
        final AtomicInteger failWrite = new AtomicInteger(-1);
        final AtomicInteger failures = new AtomicInteger();

        @Override
        public synchronized WriteResult write(List<Point> points, Optional<Checkpoint> checkpoint) {
            if (writes.incrementAndGet() == failWrite.get()) {
                failures.incrementAndGet();
                throw new IllegalStateException("the disk is full (a test)");
            }
            if (!points.isEmpty()) {
                batchSizes.add(points.size());
            }
            for (Point p : points) {
                seqs.add(((Number) p.value().toJava()).longValue());
            }
            checkpoint.ifPresent(c -> {
                stored.put(c.consumer(), c.offset());
                checkpoints.add(c.offset());
            });
            return new WriteResult(points.size(), 0, 0);
        }

        synchronized List<Long> seqs() {
            return new ArrayList<>(seqs);
        }

        synchronized List<Integer> batchSizes() {
            return new ArrayList<>(batchSizes);
        }

        synchronized List<Long> checkpoints() {
            return new ArrayList<>(checkpoints);
        }

        @Override
        public synchronized OptionalLong checkpoint(String consumer) {
            Long o = stored.get(consumer);
            return o == null ? OptionalLong.empty() : OptionalLong.of(o);
        }

        @Override
        public List<Series> series(SeriesFilter filter) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Sample> raw(List<Series> series, long from, long to, int limit) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Sample> last(List<Series> series) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Aggregate> aggregate(Source source, List<Series> series, long from, long to, long every, Fn fn) {
            throw new UnsupportedOperationException();
        }

        @Override
        public OptionalLong oldest(Source source, List<Series> series) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long rollup(long every, Source source, List<Series> series, long from, long to, Optional<Watermark> watermark) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Map<String, Long> watermarks() {
            return Map.of();
        }

        @Override
        public long delete(Source source, List<Series> series, long before) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void trackLate(long before, long granularity) {
        }

        @Override
        public List<LateBucket> late(int max) {
            return List.of();
        }

        @Override
        public void forgetLate(List<LateBucket> done) {
        }

        @Override
        public long sizeBytes() {
            return 0;
        }

        @Override
        public void close() {
        }
    }
}
