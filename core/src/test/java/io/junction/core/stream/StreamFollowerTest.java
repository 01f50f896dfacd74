package io.junction.core.stream;

import io.junction.core.testing.MemoryStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
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
}
