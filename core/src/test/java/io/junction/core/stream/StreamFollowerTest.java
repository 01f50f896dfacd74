package io.junction.core.stream;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.testing.MemoryStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

@Timeout(30)
class StreamFollowerTest {

    static Message message(String key, int n) {
        return new Message("id-" + n, 1_000L + n, key.replace('.', '/'), RoutingKey.of(key), "dev", "status",
                Json.object().put("n", n).toString());
    }

    @Test
    void anAtLeastOnceFollowerStartsAtItsCommittedOffsetAndSeesEverythingAfterInOrder() {
        MemoryStream stream = new MemoryStream("raw");
        for (int i = 0; i < 10; i++) {
            stream.append(message("a.b", i));
        }
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicLong committed = new AtomicLong(4);
        try (StreamFollower f = StreamFollower.atLeastOnce(stream, "test", offsetIn(committed), m -> true, 4,
                batch -> batch.forEach(e -> seen.add(e.offset())))) {
            for (int i = 10; i < 30; i++) {
                stream.append(message("a.b", i));
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 26);
            assertThat(seen).containsExactlyElementsOf(range(4, 30));
            await().atMost(Duration.ofSeconds(5)).until(() -> committed.get() == 30);
            assertThat(f.dropped()).isZero();
        }
    }

    @Test
    void aSlowHandlerFallsBehindAndCatchesUpFromTheLogWithoutLosingOrRepeating() throws Exception {
        MemoryStream stream = new MemoryStream("raw");
        List<Long> seen = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        try (StreamFollower.AtLeastOnce f = StreamFollower.atLeastOnce(stream, "slow", CommittedOffset.startAt(0), m -> true, 2, batch -> {
            release.await();
            batch.forEach(e -> seen.add(e.offset()));
        })) {
            for (int i = 0; i < 2_000; i++) {
                stream.append(message("a.b", i));
            }
            assertThat(f.lag()).isPositive();
            release.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 2_000);
            assertThat(seen).containsExactlyElementsOf(range(0, 2_000));
            assertThat(f.fellBehind()).isPositive();
        }
    }

    @Test
    void theFilterKeepsOnlyWhatItAcceptsAndTheOffsetStillMovesPastTheRest() {
        MemoryStream stream = new MemoryStream("raw");
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicLong committed = new AtomicLong(0);
        try (StreamFollower f = StreamFollower.atLeastOnce(stream, "filtered", offsetIn(committed),
                m -> m.key().value().startsWith("keep"), 16, batch -> batch.forEach(e -> seen.add(e.offset())))) {
            for (int i = 0; i < 100; i++) {
                stream.append(message(i % 10 == 0 ? "keep.it" : "drop.it", i));
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 10 && committed.get() >= 91);
            assertThat(seen).containsExactly(0L, 10L, 20L, 30L, 40L, 50L, 60L, 70L, 80L, 90L);
            await().atMost(Duration.ofSeconds(5)).until(() -> f.position() == 100);
        }
    }

    @Test
    void aFailingHandlerGetsTheSameBatchAgainUntilItSucceeds() {
        MemoryStream stream = new MemoryStream("raw");
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        try (StreamFollower f = StreamFollower.atLeastOnce(stream, "flaky", CommittedOffset.startAt(0), m -> true, 16, batch -> {
            if (attempts.incrementAndGet() <= 3) {
                throw new IllegalStateException("database away");
            }
            batch.forEach(e -> seen.add(e.offset()));
        })) {
            stream.append(message("a.b", 0));
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 1);
            assertThat(seen).containsExactly(0L);
            assertThat(f.failures()).isEqualTo(3);
        }
    }

    @Test
    void closingCommitsWhereTheFollowerGotTo() {
        MemoryStream stream = new MemoryStream("raw");
        AtomicLong committed = new AtomicLong(0);
        AtomicInteger count = new AtomicInteger();
        StreamFollower f = StreamFollower.atLeastOnce(stream, "c", offsetIn(committed), m -> true, 1_000, b -> count.addAndGet(b.size()));
        for (int i = 0; i < 500; i++) {
            stream.append(message("a.b", i));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> count.get() == 500);
        f.close();
        assertThat(committed.get()).isEqualTo(500);
    }

    @Test
    void aLatestOnlyFollowerStartsAtTheEndAndDropsAndCountsTheOldestWhenBehind() throws Exception {
        MemoryStream stream = new MemoryStream("raw");
        stream.append(message("a.b", -1));
        List<Long> seen = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        try (StreamFollower f = StreamFollower.latestOnly(stream, "live", m -> true, 10, batch -> {
            release.await();
            batch.forEach(e -> seen.add(e.offset()));
        })) {
            for (int i = 0; i < 100; i++) {
                stream.append(message("a.b", i));
            }
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.contains(100L));
            assertThat(seen).doesNotContain(0L).isSorted();
            assertThat(f.dropped()).isGreaterThanOrEqualTo(80);
            assertThat(seen.size() + f.dropped()).isEqualTo(100);
        }
    }

    private static CommittedOffset offsetIn(AtomicLong holder) {
        return new CommittedOffset() {
            @Override
            public long load() {
                return holder.get();
            }

            @Override
            public void commit(long next) {
                holder.set(next);
            }
        };
    }

    private static List<Long> range(long from, long to) {
        return java.util.stream.LongStream.range(from, to).boxed().toList();
    }
}
