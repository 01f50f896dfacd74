package io.junction.core.stream;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The behaviour every streams adapter must have. Each adapter's test extends this class and opens its streams; the
 * same tests then run against the in-memory stream, the embedded log and (later) Kafka.
 */
@Timeout(60)
public abstract class MessageStreamContract {

    protected static final long T0 = 1_700_000_000_000L;

    private final List<MessageStream> opened = new ArrayList<>();

    /** Opens a new, empty stream named {@code name} (each call a different one). */
    protected abstract MessageStream openStream(String name);

    /**
     * Opens a new, empty stream whose append queue holds at most {@code capacity} messages, or nothing when the
     * adapter has no such bound (its appends then never fail for lack of room).
     */
    protected abstract Optional<MessageStream> openBounded(String name, int capacity);

    private MessageStream open() {
        MessageStream s = openStream("raw");
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeStreams() {
        for (MessageStream s : opened) {
            s.close();
        }
    }

    /** A message whose id, time and body say which one it is; its key is one of ten. */
    protected static Message message(long n) {
        return new Message("id-" + n, T0 + n * 10, "mesh/b5ea3f/" + (n % 10) + "/M/status",
                RoutingKey.of("room.device" + (n % 10) + ".level"), "dev-" + (n % 10), Message.STATUS,
                Json.object().put("n", n).toString());
    }

    private static List<StreamEntry> readAll(MessageStream stream) {
        List<StreamEntry> all = new ArrayList<>();
        long from = stream.startOffset();
        while (true) {
            List<StreamEntry> page = stream.read(from, 333);
            if (page.isEmpty()) {
                return all;
            }
            all.addAll(page);
            from = page.getLast().offset() + 1;
        }
    }

    @Test
    void appendsGetDenseOffsetsFromZeroAndReadBackInOrder() {
        MessageStream stream = open();
        assertThat(stream.startOffset()).isZero();
        assertThat(stream.endOffset()).isZero();
        assertThat(stream.read(0, 10)).isEmpty();
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (long n = 0; n < 1000; n++) {
            futures.add(stream.append(message(n)));
        }
        for (int i = 0; i < futures.size(); i++) {
            assertThat(futures.get(i).join()).isEqualTo(i);
        }
        assertThat(stream.endOffset()).isEqualTo(1000);
        assertThat(stream.startOffset()).isZero();
        List<StreamEntry> all = readAll(stream);
        assertThat(all).hasSize(1000);
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).offset()).isEqualTo(i);
            assertThat(all.get(i).message()).isEqualTo(message(i));
        }
        assertThat(stream.sizeBytes()).isPositive();
        assertThat(stream.name()).isEqualTo("raw");
    }

    @Test
    void readReturnsAtMostTheLimitFromTheOffsetAndNothingAtTheEnd() {
        MessageStream stream = open();
        appendAll(stream, 0, 100);
        assertThat(stream.read(40, 3)).extracting(StreamEntry::offset).containsExactly(40L, 41L, 42L);
        assertThat(stream.read(95, 100)).extracting(StreamEntry::offset).containsExactly(95L, 96L, 97L, 98L, 99L);
        assertThat(stream.read(100, 10)).isEmpty();
        assertThat(stream.read(5_000, 10)).isEmpty();
        assertThat(stream.read(0, 0)).isEmpty();
        assertThat(stream.read(99, 1).getFirst().message()).isEqualTo(message(99));
    }

    @Test
    void offsetAtFindsTheFirstMessageAtOrAfterATime() {
        MessageStream stream = open();
        appendAll(stream, 0, 500);
        assertThat(stream.offsetAt(0)).isZero();
        assertThat(stream.offsetAt(T0)).isZero();
        assertThat(stream.offsetAt(T0 + 1)).isEqualTo(1);
        assertThat(stream.offsetAt(T0 + 2_500)).isEqualTo(250);
        assertThat(stream.offsetAt(T0 + 2_501)).isEqualTo(251);
        assertThat(stream.offsetAt(T0 + 4_990)).isEqualTo(499);
        assertThat(stream.offsetAt(T0 + 4_991)).as("after the last message: the end").isEqualTo(500);
    }

    @Test
    void concurrentProducersGetDenseOffsetsAndKeepTheirOwnOrder() throws Exception {
        MessageStream stream = open();
        int threads = 4;
        int perThread = 3_000;
        List<Future<List<CompletableFuture<Long>>>> work = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                long base = (long) t * perThread;
                work.add(pool.submit(() -> {
                    List<CompletableFuture<Long>> futures = new ArrayList<>(perThread);
                    for (int i = 0; i < perThread; i++) {
                        futures.add(stream.appendWaiting(message(base + i)));
                    }
                    return futures;
                }));
            }
        }
        Message[] byOffset = new Message[threads * perThread];
        for (int t = 0; t < threads; t++) {
            long previous = -1;
            List<CompletableFuture<Long>> futures = work.get(t).get();
            for (int i = 0; i < perThread; i++) {
                long offset = futures.get(i).join();
                assertThat(offset).as("one producer's appends keep their order").isGreaterThan(previous);
                previous = offset;
                assertThat(byOffset[(int) offset]).as("offset %d given twice", offset).isNull();
                byOffset[(int) offset] = message((long) t * perThread + i);
            }
        }
        List<StreamEntry> all = readAll(stream);
        assertThat(all).hasSize(threads * perThread);
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).message()).isEqualTo(byOffset[i]);
        }
    }

    @Test
    void tapsSeeEveryDurableEntryInOrderAndNothingAfterTheyClose() throws Exception {
        MessageStream stream = open();
        appendAll(stream, 0, 50);
        List<StreamEntry> seen = new CopyOnWriteArrayList<>();
        List<Long> notYetReadable = new CopyOnWriteArrayList<>();
        MessageStream.Tap tap = stream.tap(e -> {
            if (e.offset() >= stream.endOffset()) {
                notYetReadable.add(e.offset());
            }
            seen.add(e);
        });
        MessageStream.Tap failing = stream.tap(e -> {
            throw new IllegalStateException("a broken listener");
        });
        try (ExecutorService pool = Executors.newFixedThreadPool(3)) {
            for (int t = 0; t < 3; t++) {
                long base = 50 + t * 2_000L;
                pool.submit(() -> appendAll(stream, base, base + 2_000));
            }
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() >= 6_000);
        assertThat(seen).as("every entry after the tap was registered, in offset order, once")
                .isEqualTo(readAll(stream).subList(50, 6_050));
        assertThat(notYetReadable).as("a tap sees an entry only once it is durable and readable").isEmpty();

        tap.close();
        failing.close();
        List<StreamEntry> after = new CopyOnWriteArrayList<>();
        try (MessageStream.Tap other = stream.tap(after::add)) {
            stream.append(message(6_050)).join();
            await().atMost(Duration.ofSeconds(10)).until(() -> after.size() == 1);
        }
        assertThat(seen).as("a closed tap is not called again").hasSize(6_000);
        assertThat(after.getFirst().offset()).isEqualTo(6_050);
    }

    @Test
    void appendNeverBlocksAndAFullQueueFailsAtOnce() {
        Optional<MessageStream> maybeBounded = openBounded("bounded", 1);
        if (maybeBounded.isEmpty()) {
            // No bound: a burst far beyond any batch is taken whole, at once.
            MessageStream stream = open();
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (long n = 0; n < 20_000; n++) {
                futures.add(stream.append(message(n)));
            }
            for (int i = 0; i < futures.size(); i++) {
                assertThat(futures.get(i).join()).isEqualTo(i);
            }
            return;
        }
        MessageStream stream = maybeBounded.get();
        opened.add(stream);
        List<CompletableFuture<Long>> accepted = new ArrayList<>();
        List<Message> acceptedMessages = new ArrayList<>();
        Throwable refusal = null;
        for (long n = 0; n < 200_000 && refusal == null; n++) {
            CompletableFuture<Long> f = stream.append(message(n));
            if (f.isCompletedExceptionally()) {
                refusal = f.exceptionNow();
            } else {
                accepted.add(f);
                acceptedMessages.add(message(n));
            }
        }
        assertThat(refusal).as("a burst into a queue of one is refused at once, not waited for")
                .isInstanceOf(StreamFullException.class)
                .hasMessageContaining("append queue is full");
        for (int i = 0; i < accepted.size(); i++) {
            assertThat(accepted.get(i).join()).as("what was accepted is stored, densely").isEqualTo(i);
        }
        assertThat(readAll(stream)).extracting(StreamEntry::message).isEqualTo(acceptedMessages);

        // A producer with a thread of its own waits for room instead, and nothing is refused.
        long end = stream.endOffset();
        List<CompletableFuture<Long>> waited = new ArrayList<>();
        for (long n = 0; n < 5_000; n++) {
            waited.add(stream.appendWaiting(message(end + n)));
        }
        for (int i = 0; i < waited.size(); i++) {
            assertThat(waited.get(i).join()).isEqualTo(end + i);
        }
    }

    @Test
    void closeCompletesWhatWasAcceptedAndFailsLaterAppends() {
        MessageStream stream = open();
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (long n = 0; n < 2_000; n++) {
            futures.add(stream.append(message(n)));
        }
        stream.close();
        for (int i = 0; i < futures.size(); i++) {
            assertThat(futures.get(i)).isCompletedWithValue((long) i);
        }
        assertThat(stream.append(message(2_000))).as("append after close").isCompletedExceptionally();
        assertThat(stream.appendWaiting(message(2_001))).as("appendWaiting after close").isCompletedExceptionally();
        stream.close();
    }

    /** Appends messages {@code from} to {@code to} (waiting for room) and waits until they are durable. */
    protected static void appendAll(MessageStream stream, long from, long to) {
        CompletableFuture<Long> last = null;
        for (long n = from; n < to; n++) {
            last = stream.appendWaiting(message(n));
        }
        if (last != null) {
            last.join();
        }
    }
}
