package io.junction.core.stream;

import io.junction.core.Message;
import io.junction.core.testing.MemoryStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.LongStream;

import static io.junction.core.stream.MessageStreamContract.appendAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the follower reports about itself on the in-memory stream. The guarantees every stream adapter must keep
 * (order, committed offsets, the filter, retries, latest-only drops) are in {@link StreamFollowerContract}, which
 * {@link MemoryStreamFollowerContractTest} runs over {@link MemoryStream}.
 */
@Timeout(30)
class StreamFollowerTest {

    @Test
    void aSlowHandlerFallsBehindAndCatchesUpFromTheLogWithoutLosingOrRepeating() throws Exception {
        MemoryStream stream = new MemoryStream("raw");
        List<Long> seen = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch busy = new CountDownLatch(1);
        try (StreamFollower.AtLeastOnce f = StreamFollower.atLeastOnce(stream, "slow", CommittedOffset.startAt(0), m -> true, 2, batch -> {
            busy.countDown();
            release.await();
            batch.forEach(e -> seen.add(e.offset()));
        })) {
            // The handler is held in its first batch, so the follower is live (not catching up) when the rest arrive.
            appendAll(stream, 0, 1);
            assertThat(busy.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            appendAll(stream, 1, 2_000);
            assertThat(f.lag()).isPositive();
            release.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 2_000);
            assertThat(seen).containsExactlyElementsOf(LongStream.range(0, 2_000).boxed().toList());
            assertThat(f.fellBehind()).isPositive();
        }
    }

    @Test
    void aLogThatCannotBeReadWhileCatchingUpIsReadAgainNotSkipped() throws Exception {
        MemoryStream memory = new MemoryStream("raw");
        appendAll(memory, 0, 1_000);
        AtomicInteger failures = new AtomicInteger(1);
        MessageStream stream = new FlakyReads(memory, failures);
        List<Long> seen = new CopyOnWriteArrayList<>();
        try (StreamFollower.AtLeastOnce f = StreamFollower.atLeastOnce(stream, "catching-up", CommittedOffset.startAt(0),
                m -> true, 100, batch -> batch.forEach(e -> seen.add(e.offset())))) {
            // The first read of the log fails (an engine away); a live entry arrives meanwhile.
            appendAll(memory, 1_000, 1_001);
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 1_001);
            assertThat(failures.get()).isZero();
            assertThat(seen).containsExactlyElementsOf(LongStream.range(0, 1_001).boxed().toList());
        }
    }

    /** A stream whose first {@code failures} reads throw, as an engine that is away does. */
    private record FlakyReads(MemoryStream delegate, AtomicInteger failures) implements MessageStream {
        @Override
        public List<StreamEntry> read(long fromOffset, int max) {
            if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new IllegalStateException("the log is away");
            }
            return delegate.read(fromOffset, max);
        }

        @Override
        public String name() {
            return delegate.name();
        }

        @Override
        public CompletableFuture<Long> append(Message message) {
            return delegate.append(message);
        }

        @Override
        public CompletableFuture<Long> appendWaiting(Message message) {
            return delegate.appendWaiting(message);
        }

        @Override
        public long offsetAt(long epochMillis) {
            return delegate.offsetAt(epochMillis);
        }

        @Override
        public long endOffset() {
            return delegate.endOffset();
        }

        @Override
        public long startOffset() {
            return delegate.startOffset();
        }

        @Override
        public long sizeBytes() {
            return delegate.sizeBytes();
        }

        @Override
        public Tap tap(Consumer<StreamEntry> listener) {
            return delegate.tap(listener);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
