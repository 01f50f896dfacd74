package io.junction.core.stream;

import io.junction.core.Message;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

import static io.junction.core.stream.MessageStreamContract.appendAll;
import static io.junction.core.stream.MessageStreamContract.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The guarantees of {@link StreamFollower} over a given {@link MessageStream} adapter: the follower uses only the
 * port, so each adapter's test extends this class and the same guarantees must hold over every one of them.
 */
@Timeout(60)
public abstract class StreamFollowerContract {

    private final List<AutoCloseable> opened = new ArrayList<>();

    /** Opens a new, empty stream named {@code name} (each call a different one). */
    protected abstract MessageStream openStream(String name);

    private MessageStream open() {
        MessageStream s = openStream("raw");
        opened.add(s);
        return s;
    }

    private <F extends StreamFollower> F closing(F follower) {
        opened.add(follower);
        return follower;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened.reversed()) {
            c.close();
        }
    }

    @Test
    void atLeastOnceStartsAtTheCommittedOffsetAndHandsOverEverythingAfterInOrder() {
        MessageStream stream = open();
        appendAll(stream, 0, 100);
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicLong committed = new AtomicLong(40);
        closing(StreamFollower.atLeastOnce(stream, "contract", offsetIn(committed), m -> true, 16,
                batch -> batch.forEach(e -> seen.add(e.offset()))));
        appendAll(stream, 100, 200);
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 160 && committed.get() == 200);
        assertThat(seen).containsExactlyElementsOf(range(40, 200));
    }

    @Test
    void aSlowHandlerCatchesUpFromTheLogWithoutSkippingAnything() throws Exception {
        MessageStream stream = open();
        List<Long> seen = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        StreamFollower f = closing(StreamFollower.atLeastOnce(stream, "slow", CommittedOffset.startAt(0), m -> true, 2,
                batch -> {
                    release.await();
                    batch.forEach(e -> seen.add(e.offset()));
                }));
        appendAll(stream, 0, 6_000);
        await().atMost(Duration.ofSeconds(10)).until(() -> f.lag() > 5_000);
        release.countDown();
        await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() >= 6_000 && f.position() == 6_000);
        assertThat(seen).as("every entry once, in order, although the handler fell far behind")
                .containsExactlyElementsOf(range(0, 6_000));
        assertThat(f.dropped()).isZero();
    }

    @Test
    void aRestartedFollowerGoesOnFromWhereTheLastOneCommitted() {
        MessageStream stream = open();
        appendAll(stream, 0, 300);
        AtomicLong committed = new AtomicLong(0);
        List<Long> first = new CopyOnWriteArrayList<>();
        StreamFollower before = StreamFollower.atLeastOnce(stream, "restart", offsetIn(committed), m -> true, 64,
                batch -> batch.forEach(e -> first.add(e.offset())));
        await().atMost(Duration.ofSeconds(10)).until(() -> first.size() == 300);
        before.close();
        assertThat(committed.get()).as("closing commits where it got to").isEqualTo(300);

        appendAll(stream, 300, 500);
        List<Long> second = new CopyOnWriteArrayList<>();
        closing(StreamFollower.atLeastOnce(stream, "restart", offsetIn(committed), m -> true, 64,
                batch -> batch.forEach(e -> second.add(e.offset()))));
        appendAll(stream, 500, 600);
        await().atMost(Duration.ofSeconds(10)).until(() -> second.size() >= 300 && committed.get() == 600);
        assertThat(second).containsExactlyElementsOf(range(300, 600));
    }

    @Test
    void entriesTheFilterRefusesStillMoveTheOffset() {
        MessageStream stream = open();
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicLong committed = new AtomicLong(0);
        StreamFollower f = closing(StreamFollower.atLeastOnce(stream, "filtered", offsetIn(committed),
                StreamFollowerContract::everyTenth, 16, batch -> batch.forEach(e -> seen.add(e.offset()))));
        appendAll(stream, 0, 95);
        await().atMost(Duration.ofSeconds(10)).until(() -> committed.get() == 95 && f.position() == 95);
        assertThat(seen).containsExactly(0L, 10L, 20L, 30L, 40L, 50L, 60L, 70L, 80L, 90L);
        assertThat(f.lag()).isZero();
    }

    @Test
    void aFailingHandlerGetsTheSameBatchAgainUntilItSucceeds() {
        MessageStream stream = open();
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        StreamFollower f = closing(StreamFollower.atLeastOnce(stream, "flaky", CommittedOffset.startAt(0), m -> true, 16,
                batch -> {
                    if (attempts.incrementAndGet() <= 2) {
                        throw new IllegalStateException("database away");
                    }
                    batch.forEach(e -> seen.add(e.offset()));
                }));
        appendAll(stream, 0, 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == 1);
        assertThat(seen).containsExactly(0L);
        assertThat(f.failures()).isEqualTo(2);
    }

    @Test
    void latestOnlyStartsAtTheEndAndHandsOverNewEntriesInOrder() {
        MessageStream stream = open();
        appendAll(stream, 0, 20);
        List<Long> seen = new CopyOnWriteArrayList<>();
        closing(StreamFollower.latestOnly(stream, "live", m -> true, 100, batch -> batch.forEach(e -> seen.add(e.offset()))));
        appendAll(stream, 20, 70);
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 50);
        assertThat(seen).containsExactlyElementsOf(range(20, 70));
    }

    @Test
    void latestOnlyDropsAndCountsTheOldestWhenTheHandlerFallsBehind() throws Exception {
        MessageStream stream = open();
        List<Long> seen = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        StreamFollower f = closing(StreamFollower.latestOnly(stream, "live", m -> true, 10, batch -> {
            release.await();
            batch.forEach(e -> seen.add(e.offset()));
        }));
        appendAll(stream, 0, 100);
        await().atMost(Duration.ofSeconds(10)).until(() -> f.dropped() + 20 >= 100);
        release.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains(99L));
        assertThat(seen).as("what it hands over is in order and ends with the newest").isSorted().endsWith(99L);
        assertThat(f.dropped()).isGreaterThanOrEqualTo(80);
        assertThat(seen.size() + f.dropped()).as("every entry is either handed over or counted").isEqualTo(100);
    }

    private static boolean everyTenth(Message m) {
        return m.id().endsWith("0");
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
        return LongStream.range(from, to).boxed().toList();
    }
}
