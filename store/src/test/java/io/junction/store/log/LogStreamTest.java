package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.config.JunctionConfig.Fsync;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFullException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.junction.store.TestMessages.T0;
import static io.junction.store.TestMessages.message;
import static io.junction.store.TestMessages.settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class LogStreamTest {

    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private LogStream open() {
        return LogStream.open(dir, "raw", settings(dir), registry);
    }

    private LogStream open(Fsync fsync, long segmentBytes) {
        return LogStream.open(dir, "raw", settings(dir, fsync, segmentBytes), registry);
    }

    private static List<StreamEntry> readAll(MessageStream stream, int page) {
        List<StreamEntry> all = new ArrayList<>();
        long from = stream.startOffset();
        while (true) {
            List<StreamEntry> got = stream.read(from, page);
            if (got.isEmpty()) {
                return all;
            }
            all.addAll(got);
            from = got.getLast().offset() + 1;
        }
    }

    private static void appendAll(MessageStream stream, long from, long to) {
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (long n = from; n < to; n++) {
            futures.add(stream.appendWaiting(message(n)));
        }
        for (int i = 0; i < futures.size(); i++) {
            assertThat(futures.get(i).join()).isEqualTo(from + i);
        }
    }

    private static void assertHolds(MessageStream stream, long count) {
        List<StreamEntry> all = readAll(stream, 777);
        assertThat(all).hasSize((int) count);
        for (int i = 0; i < count; i++) {
            assertThat(all.get(i).offset()).isEqualTo(i);
            assertThat(all.get(i).message()).isEqualTo(message(i));
        }
        assertThat(stream.endOffset()).isEqualTo(count);
    }

    private Path lastSegment() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".log")).sorted().toList().getLast();
        }
    }

    @Test
    void concurrentAppendsGetDenseOffsetsAndReadBackInOrder() throws Exception {
        int threads = 8;
        int perThread = 6_250;
        try (LogStream stream = open(); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<List<CompletableFuture<Long>>>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                work.add(pool.submit(() -> {
                    List<CompletableFuture<Long>> futures = new ArrayList<>(perThread);
                    for (int i = 0; i < perThread; i++) {
                        futures.add(stream.appendWaiting(message((long) thread * perThread + i)));
                    }
                    return futures;
                }));
            }
            Message[] byOffset = new Message[threads * perThread];
            for (int t = 0; t < threads; t++) {
                List<CompletableFuture<Long>> futures = work.get(t).get();
                long previous = -1;
                for (int i = 0; i < perThread; i++) {
                    long offset = futures.get(i).get();
                    assertThat(offset).as("one producer's appends keep their order").isGreaterThan(previous);
                    previous = offset;
                    assertThat(byOffset[(int) offset]).as("offset %d given twice", offset).isNull();
                    byOffset[(int) offset] = message((long) t * perThread + i);
                }
            }
            List<StreamEntry> all = readAll(stream, 1000);
            assertThat(all).hasSize(threads * perThread);
            for (int i = 0; i < all.size(); i++) {
                assertThat(all.get(i).offset()).isEqualTo(i);
                assertThat(all.get(i).message()).isEqualTo(byOffset[i]);
            }
            assertThat(stream.endOffset()).isEqualTo(threads * perThread);
            assertThat(registry.get("junction.stream.appends").tag("stream", "raw").counter().count())
                    .isEqualTo(threads * perThread);
            assertThat(registry.get("junction.stream.batch.size").summary().count()).isPositive();
            assertThat(registry.get("junction.stream.bytes").gauge().value()).isEqualTo(stream.sizeBytes());
            assertThat(stream.sizeBytes()).isEqualTo(Files.size(lastSegment()));
        }
    }

    @Test
    void readersSeeOnlyWholeRecordsWhileAppendsGoOn() throws Exception {
        int count = 20_000;
        try (LogStream stream = open(Fsync.NEVER, 32 * 1024)) {
            Thread producer = Thread.ofPlatform().start(() -> appendAll2(stream, 0, count));
            List<Throwable> problems = Collections.synchronizedList(new ArrayList<>());
            List<Thread> readers = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                readers.add(Thread.ofPlatform().start(() -> {
                    try {
                        long next = 0;
                        while (next < count) {
                            long end = stream.endOffset();
                            List<StreamEntry> got = stream.read(next, 300);
                            for (StreamEntry e : got) {
                                assertThat(e.offset()).isEqualTo(next);
                                assertThat(e.message()).isEqualTo(message(next));
                                next++;
                            }
                            if (got.size() < 300) {
                                assertThat(next).as("a short read reaches the end seen before it").isGreaterThanOrEqualTo(end);
                            }
                            assertThat(stream.offsetAt(T0 + next / 2)).isEqualTo(next / 2);
                        }
                    } catch (Throwable t) {
                        problems.add(t);
                    }
                }));
            }
            producer.join();
            for (Thread reader : readers) {
                reader.join(Duration.ofSeconds(30));
            }
            assertThat(problems).isEmpty();
            assertHolds(stream, count);
        }
    }

    @Test
    void reopenedStreamHoldsTheSameMessagesAndContinues() {
        try (LogStream stream = open()) {
            appendAll(stream, 0, 1000);
        }
        try (LogStream stream = open()) {
            assertHolds(stream, 1000);
            appendAll(stream, 1000, 1500);
        }
        try (LogStream stream = open()) {
            assertHolds(stream, 1500);
        }
    }

    /**
     * Writes {@code count} messages, appends {@code tail} to the last segment as a crash may leave it, and reopens:
     * the reopened stream has cut the tail and still holds every message.
     */
    private LogStream reopenedAfterTail(int count, byte[] tail) throws IOException {
        try (LogStream stream = open()) {
            appendAll(stream, 0, count);
        }
        long intact = Files.size(lastSegment());
        Files.write(lastSegment(), tail, StandardOpenOption.APPEND);
        LogStream stream = open();
        assertThat(Files.size(lastSegment())).isEqualTo(intact);
        assertHolds(stream, count);
        return stream;
    }

    @Test
    void reopeningCutsAPartlyWrittenLastRecord() throws IOException {
        // A header announcing 200 bytes of payload, followed by only 10 of them.
        byte[] torn = ByteBuffer.allocate(18).putInt(200).putInt(12345).put(new byte[10]).array();
        try (LogStream stream = reopenedAfterTail(100, torn)) {
            appendAll(stream, 100, 150);
            assertHolds(stream, 150);
        }
    }

    @Test
    void reopeningCutsGarbageAfterTheLastRecord() throws IOException {
        byte[] garbage = new byte[5000];
        new java.util.Random(7).nextBytes(garbage);
        try (LogStream stream = reopenedAfterTail(100, garbage)) {
            assertThat(stream.append(message(100)).join()).isEqualTo(100);
        }
    }

    @Test
    void reopeningCutsALastRecordWhoseChecksumIsWrong() throws IOException {
        try (LogStream stream = open()) {
            appendAll(stream, 0, 100);
        }
        Path segment = lastSegment();
        long size = Files.size(segment);
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[]{'X'}), size - 3); // inside the last record's body
        }
        try (LogStream stream = open()) {
            assertHolds(stream, 99);
            assertThat(stream.append(message(99)).join()).isEqualTo(99);
            assertHolds(stream, 100);
        }
    }

    @Test
    void aTailOfZerosIsCut() throws IOException {
        // What a file system may leave after a crash: the file grew but its last block was never written.
        reopenedAfterTail(10, new byte[4096]).close();
    }

    @Test
    void smallSegmentsRollAndAreReadAcross() throws IOException {
        try (LogStream stream = open(Fsync.ALWAYS, 4096)) {
            appendAll(stream, 0, 1000);
            assertHolds(stream, 1000);
            assertThat(stream.read(95, 10)).extracting(StreamEntry::offset)
                    .containsExactly(95L, 96L, 97L, 98L, 99L, 100L, 101L, 102L, 103L, 104L);
        }
        List<Path> segments;
        try (Stream<Path> files = Files.list(dir)) {
            segments = files.filter(p -> p.toString().endsWith(".log")).sorted().toList();
        }
        assertThat(segments).hasSizeGreaterThan(20);
        assertThat(segments.getFirst().getFileName().toString()).isEqualTo("00000000000000000000.log");
        long total = 0;
        for (Path p : segments) {
            assertThat(Files.size(p)).isLessThanOrEqualTo(4096);
            total += Files.size(p);
        }
        try (LogStream stream = open(Fsync.ALWAYS, 4096)) {
            assertHolds(stream, 1000);
            assertThat(stream.sizeBytes()).isEqualTo(total);
            for (long from = 0; from < 1000; from += 37) {
                List<StreamEntry> got = stream.read(from, 50);
                assertThat(got).hasSize((int) Math.min(50, 1000 - from));
                assertThat(got.getFirst().offset()).isEqualTo(from);
                assertThat(got.getFirst().message()).isEqualTo(message(from));
            }
            appendAll(stream, 1000, 1100);
            assertHolds(stream, 1100);
        }
    }

    @Test
    void readingAtOrBeyondTheEndGivesNothing() {
        try (LogStream stream = open()) {
            assertThat(stream.read(0, 10)).isEmpty();
            appendAll(stream, 0, 5);
            assertThat(stream.read(5, 10)).isEmpty();
            assertThat(stream.read(1_000, 10)).isEmpty();
            assertThat(stream.read(3, 0)).isEmpty();
            assertThat(stream.read(3, 10)).extracting(StreamEntry::offset).containsExactly(3L, 4L);
            assertThat(stream.read(-5, 2)).extracting(StreamEntry::offset).containsExactly(0L, 1L);
            assertThat(stream.startOffset()).isZero();
        }
    }

    @Test
    void offsetAtFindsTheFirstMessageAtOrAfterATimeEvenWhenTimesAreSlightlyOutOfOrder() {
        int count = 3000;
        long[] ts = new long[count];
        java.util.Random random = new java.util.Random(42);
        for (int i = 0; i < count; i++) {
            // Mostly rising by 10 ms, with messages up to 25 ms early as from another connection.
            ts[i] = T0 + i * 10L - (random.nextInt(4) == 0 ? random.nextInt(25) : 0);
        }
        try (LogStream stream = open(Fsync.NEVER, 16 * 1024)) {
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                futures.add(stream.append(message(i, ts[i])));
            }
            futures.getLast().join();
            checkOffsetAt(stream, ts);
        }
        try (LogStream stream = open(Fsync.NEVER, 16 * 1024)) {
            checkOffsetAt(stream, ts); // sealed segments indexed again after the restart
        }
    }

    private static void checkOffsetAt(LogStream stream, long[] ts) {
        assertThat(stream.offsetAt(0)).isZero();
        assertThat(stream.offsetAt(T0 + ts.length * 10L + 1)).isEqualTo(ts.length);
        for (long t = T0 - 30; t < T0 + ts.length * 10L + 30; t += 7) {
            long expected = ts.length;
            for (int i = 0; i < ts.length; i++) {
                if (ts[i] >= t) {
                    expected = i;
                    break;
                }
            }
            assertThat(stream.offsetAt(t)).as("offsetAt(T0 + %d)", t - T0).isEqualTo(expected);
        }
    }

    @Test
    void tapReceivesEveryEntryInOffsetOrderUntilClosed() throws Exception {
        List<StreamEntry> seen = Collections.synchronizedList(new ArrayList<>());
        try (LogStream stream = open(Fsync.INTERVAL, 64 * 1024)) {
            MessageStream.Tap tap = stream.tap(seen::add);
            MessageStream.Tap failing = stream.tap(e -> {
                throw new IllegalStateException("a broken listener");
            });
            try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
                for (int t = 0; t < 4; t++) {
                    int thread = t;
                    pool.submit(() -> appendAll2(stream, thread * 2000L, thread * 2000L + 2000));
                }
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == 8000);
            for (int i = 0; i < seen.size(); i++) {
                assertThat(seen.get(i).offset()).isEqualTo(i);
            }
            assertThat(seen).isEqualTo(readAll(stream, 1000));
            tap.close();
            failing.close();
            stream.append(message(8000)).join();
            assertThat(seen).hasSize(8000);
        }
    }

    private static void appendAll2(MessageStream stream, long from, long to) {
        CompletableFuture<Long> last = null;
        for (long n = from; n < to; n++) {
            last = stream.appendWaiting(message(n));
        }
        last.join();
    }

    @Test
    void aTapThatBlocksDelaysNeitherDurableWritesNorAcknowledgementsAndCatchesUpFromTheLog() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<StreamEntry> seen = Collections.synchronizedList(new ArrayList<>());
        List<StreamEntry> fast = Collections.synchronizedList(new ArrayList<>());
        try (LogStream stream = open(Fsync.INTERVAL, 256 * 1024)) {
            stream.tap(e -> {
                try {
                    release.await();
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
                seen.add(e);
            });
            stream.tap(fast::add);
            int count = 3 * LogStream.RING;
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (long n = 0; n < count; n++) {
                futures.add(stream.appendWaiting(message(n)));
            }
            for (int i = 0; i < count; i++) {
                assertThat(futures.get(i).get(20, TimeUnit.SECONDS)).as("acknowledged while the tap is blocked").isEqualTo(i);
            }
            assertThat(stream.endOffset()).isEqualTo(count);
            assertThat(seen).isEmpty();
            assertThat(registry.get("junction.stream.dispatch.lag").gauge().value()).isPositive();

            release.countDown();
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == count && fast.size() == count);
            List<StreamEntry> all = readAll(stream, 1000);
            assertThat(seen).as("the blocked tap gets every entry, in order, once").isEqualTo(all);
            assertThat(fast).as("a tap beside it gets every entry too, later").isEqualTo(all);
            assertThat(stream.ringMisses()).as("the writer went round the ring: entries were read back from the log")
                    .isPositive();
            await().atMost(Duration.ofSeconds(5)).until(() -> registry.get("junction.stream.dispatch.lag").gauge().value() == 0);
        }
    }

    @Test
    void closingLetsTheTapsSeeEverythingThatWasCommitted() {
        List<StreamEntry> seen = Collections.synchronizedList(new ArrayList<>());
        LogStream stream = open(Fsync.NEVER, 64 * 1024);
        stream.tap(seen::add);
        appendAll2(stream, 0, 5_000);
        stream.close();
        assertThat(seen).hasSize(5_000);
        assertThat(seen.getLast().offset()).isEqualTo(4_999);
    }

    @Test
    void aFullQueueIsRefusedAtOnceAndCounted() {
        try (LogStream stream = LogStream.open(dir, "raw", settings(dir), registry, 1)) {
            CompletableFuture<Long> refused = null;
            for (long n = 0; n < 200_000 && refused == null; n++) {
                CompletableFuture<Long> f = stream.append(message(n));
                if (f.isCompletedExceptionally()) {
                    refused = f;
                }
            }
            assertThat(refused).isNotNull();
            assertThatThrownBy(refused::join).hasCauseInstanceOf(StreamFullException.class)
                    .hasMessageContaining("stream 'raw': the stream's append queue is full");
            assertThat(registry.get("junction.stream.refused").tag("stream", "raw").counter().count()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(Fsync.class)
    void everyFsyncPolicyKeepsWhatWasAppended(Fsync fsync) throws ExecutionException, InterruptedException {
        try (LogStream stream = open(fsync, 64 * 1024)) {
            appendAll(stream, 0, 3000);
            // Waiting for each one also works: a lone message is not held back for a batch.
            for (long n = 3000; n < 3020; n++) {
                assertThat(stream.append(message(n)).get()).isEqualTo(n);
            }
        }
        try (LogStream stream = open(fsync, 64 * 1024)) {
            assertHolds(stream, 3020);
        }
    }

    @Test
    void appendAfterCloseFailsClearly() {
        LogStream stream = open();
        stream.append(message(0)).join();
        stream.close();
        stream.close();
        CompletableFuture<Long> late = stream.append(message(1));
        assertThat(late).isCompletedExceptionally();
        assertThatThrownBy(late::join).hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("stream 'raw' is closed");
        assertThatThrownBy(() -> stream.read(0, 1)).hasMessageContaining("stream 'raw' is closed");
    }

    @Test
    void closeCompletesEverythingAlreadyQueued() {
        LogStream stream = open(Fsync.ALWAYS, 64 * 1024);
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (int n = 0; n < 3000; n++) {
            futures.add(stream.append(message(n)));
        }
        stream.close();
        for (int n = 0; n < 3000; n++) {
            assertThat(futures.get(n)).isCompletedWithValue((long) n);
        }
        try (LogStream reopened = open()) {
            assertHolds(reopened, 3000);
        }
    }

    @Test
    void aStreamDirectoryCanBeOpenedOnlyOnce() {
        try (LogStream stream = open()) {
            assertThatThrownBy(this::open).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already open");
            stream.append(message(0)).join();
        }
        try (LogStream stream = open()) {
            assertThat(stream.endOffset()).isEqualTo(1);
        }
    }

    @Test
    void aRecordLargerThanTheWriteBufferIsStored() {
        StringBuilder body = new StringBuilder("{\"blob\":\"");
        body.append("x".repeat(3 * 1024 * 1024)).append("\"}");
        Message big = new Message("big", T0, "t", io.junction.core.RoutingKey.of("a.b"), "", "status", body.toString());
        try (LogStream stream = open()) {
            stream.append(message(0));
            stream.append(big);
            assertThat(stream.append(message(2)).join()).isEqualTo(2);
        }
        try (LogStream stream = open()) {
            assertThat(stream.read(1, 1).getFirst().message()).isEqualTo(big);
            assertThat(stream.read(2, 1).getFirst().message()).isEqualTo(message(2));
        }
    }
}
