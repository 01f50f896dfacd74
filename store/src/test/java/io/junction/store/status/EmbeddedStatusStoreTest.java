package io.junction.store.status;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
import io.junction.store.log.LogStream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import static io.junction.store.TestMessages.T0;
import static io.junction.store.TestMessages.message;
import static io.junction.store.TestMessages.settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What the embedded status adds to the port's contract ({@link EmbeddedStatusStoreContractTest}): snapshots and following. */
class EmbeddedStatusStoreTest {

    @TempDir
    Path dataDir;

    private static Message at(String key, int value) {
        return new Message("id-" + key + "-" + value, T0 + value, "t/" + key, RoutingKey.of(key), "dev", Message.STATUS,
                "{\"value\":" + value + "}");
    }

    private static List<Message> values(Map<RoutingKey, Message> map) {
        return new ArrayList<>(new TreeMap<>(map).values());
    }

    /** The status a full replay of the stream gives: the last message of every key. */
    private static Map<RoutingKey, Message> replay(MessageStream raw) {
        Map<RoutingKey, Message> last = new TreeMap<>();
        for (long from = 0; ; ) {
            List<StreamEntry> page = raw.read(from, 1000);
            if (page.isEmpty()) {
                return last;
            }
            page.forEach(e -> last.put(e.message().key(), e.message()));
            from = page.getLast().offset() + 1;
        }
    }

    private static void appendAll(MessageStream raw, long from, long to) {
        CompletableFuture<Long> last = null;
        for (long n = from; n < to; n++) {
            last = raw.appendWaiting(message(n));
        }
        last.join();
    }

    private LogStream raw() {
        return LogStream.open(settings(dataDir), "raw", new SimpleMeterRegistry());
    }

    @Test
    void aSnapshotAndCatchingUpGiveTheSameStatusAsAFullReplay() throws IOException {
        Path crashed = dataDir.resolve("copy");
        try (LogStream raw = raw(); EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir);
             StreamFollower following = status.follow(raw)) {
            appendAll(raw, 0, 500);
            await().until(() -> status.nextOffset() == 500);
            status.snapshot();
            // What a kill -9 leaves: the snapshot at 500, while the stream goes on to 800.
            Files.createDirectories(crashed.resolve("status"));
            Files.copy(dataDir.resolve("status").resolve(EmbeddedStatusStore.SNAPSHOT),
                    crashed.resolve("status").resolve(EmbeddedStatusStore.SNAPSHOT), StandardCopyOption.REPLACE_EXISTING);
            appendAll(raw, 500, 800);
            await().until(() -> status.nextOffset() == 800);
            assertThat(values(status.find(RoutingPattern.ALL).stream().collect(
                    java.util.stream.Collectors.toMap(Message::key, m -> m)))).isEqualTo(values(replay(raw)));

            try (EmbeddedStatusStore restarted = EmbeddedStatusStore.open(crashed)) {
                assertThat(restarted.nextOffset()).isEqualTo(500);
                try (StreamFollower catchingUp = restarted.follow(raw)) {
                    assertThat(restarted.nextOffset()).as("follow returns once caught up").isEqualTo(800);
                    // The follower counts a batch once its handler has returned, a moment after the status moved.
                    await().until(() -> catchingUp.handled() >= 300);
                    assertThat(catchingUp.handled()).as("only the entries after the snapshot are read").isEqualTo(300);
                    assertThat(restarted.find(RoutingPattern.ALL)).isEqualTo(status.find(RoutingPattern.ALL));
                }
            }
        }
        try (LogStream raw = raw(); EmbeddedStatusStore reopened = EmbeddedStatusStore.open(dataDir)) {
            assertThat(reopened.nextOffset()).as("closing wrote a last snapshot").isEqualTo(800);
            try (StreamFollower following = reopened.follow(raw)) {
                assertThat(following.handled()).isZero();
                assertThat(reopened.find(RoutingPattern.ALL)).isEqualTo(values(replay(raw)));
            }
        }
    }

    @Test
    void followingWhileMessagesArriveMissesNone() throws Exception {
        try (LogStream raw = raw()) {
            appendAll(raw, 0, 2000);
            Thread producer = Thread.ofPlatform().start(() -> appendAll(raw, 2000, 8000));
            try (EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir); StreamFollower following = status.follow(raw)) {
                producer.join();
                await().until(() -> status.nextOffset() == 8000);
                assertThat(status.find(RoutingPattern.ALL)).isEqualTo(values(replay(raw)));
            }
        }
    }

    @Test
    void theSnapshotIsWrittenInTheBackgroundWhenSomethingChanged() {
        try (EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir, Duration.ofMillis(50))) {
            status.update(new StreamEntry(0, at("a.b", 1)));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                try (EmbeddedStatusStore copy = EmbeddedStatusStore.open(copyOf(dataDir))) {
                    assertThat(copy.get(RoutingKey.of("a.b"))).contains(at("a.b", 1));
                    assertThat(copy.nextOffset()).isEqualTo(1);
                }
            });
        }
    }

    private Path copyOf(Path data) throws IOException {
        Path copy = Files.createTempDirectory(dataDir, "copy");
        Files.createDirectories(copy.resolve("status"));
        Path snapshot = data.resolve("status").resolve(EmbeddedStatusStore.SNAPSHOT);
        if (Files.exists(snapshot)) {
            Files.copy(snapshot, copy.resolve("status").resolve(EmbeddedStatusStore.SNAPSHOT));
        }
        return copy;
    }

    @Test
    void aDamagedSnapshotIsSetAsideAndTheStatusIsRebuiltFromTheStream() throws IOException {
        try (LogStream raw = raw()) {
            appendAll(raw, 0, 300);
            try (EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir)) {
                status.follow(raw).close();
            }
            Path snapshot = dataDir.resolve("status").resolve(EmbeddedStatusStore.SNAPSHOT);
            byte[] bytes = Files.readAllBytes(snapshot);
            bytes[bytes.length / 2] ^= 0x55;
            Files.write(snapshot, bytes);
            try (EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir)) {
                assertThat(status.nextOffset()).isZero();
                status.follow(raw).close();
                assertThat(status.find(RoutingPattern.ALL)).isEqualTo(values(replay(raw)));
            }
            try (var files = Files.list(dataDir.resolve("status"))) {
                assertThat(files.map(p -> p.getFileName().toString()))
                        .anyMatch(n -> n.startsWith(EmbeddedStatusStore.SNAPSHOT + ".damaged-"));
            }
        }
    }

    @Test
    void aStatusAheadOfTheStreamIsRebuiltFromIt() {
        try (EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir)) {
            status.update(new StreamEntry(999, at("gone.key", 1)));
        }
        try (LogStream raw = raw(); EmbeddedStatusStore status = EmbeddedStatusStore.open(dataDir)) {
            appendAll(raw, 0, 20);
            status.follow(raw).close();
            assertThat(status.nextOffset()).isEqualTo(20);
            assertThat(status.get(RoutingKey.of("gone.key"))).isEmpty();
            assertThat(status.find(RoutingPattern.ALL)).isEqualTo(values(replay(raw)));
        }
    }
}
