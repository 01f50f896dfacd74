package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The jobs journal as files on disk: appends, group commit, torn and corrupt lines, atomic compaction. */
class JournalTest {

    @TempDir
    Path dir;

    static ObjectNode record(int i) {
        return Json.object().put("t", "event").put("id", "job-" + i).put("n", i);
    }

    @Test
    void concurrentAppendsAreDurableInOrderWhenTheirFuturesComplete() throws Exception {
        Journal journal = Journal.open(dir, List.of(), 1 << 20, new SimpleMeterRegistry());
        List<CompletableFuture<Void>> appends = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            appends.add(journal.append(record(i)));
        }
        CompletableFuture.allOf(appends.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
        Journal.Contents read = Journal.read(dir);
        assertThat(read.skipped()).isZero();
        assertThat(read.records()).extracting(r -> r.get("n").asInt()).containsExactlyElementsOf(
                java.util.stream.IntStream.range(0, 2_000).boxed().toList());
        journal.close();
        assertThat(journal.append(record(9)).isCompletedExceptionally()).as("appends after close fail").isTrue();
    }

    @Test
    void aTornTailAndACorruptLineAreSkippedAndTheRestIsRead() throws Exception {
        Journal journal = Journal.open(dir, List.of(record(0)), 1 << 20, new SimpleMeterRegistry());
        journal.append(record(1)).get(10, TimeUnit.SECONDS);
        journal.append(record(2)).get(10, TimeUnit.SECONDS);
        journal.close();
        Path file = dir.resolve(Journal.FILE);
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(3).allMatch(l -> l.matches("[0-9a-f]{8} \\{.*}"));
        lines.set(1, lines.get(1).replace("\"n\":1", "\"n\":7"));
        Files.write(file, lines);
        Files.writeString(file, "0badf00d {\"t\":\"event\",\"id\":\"job-3\"", StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        Journal.Contents read = Journal.read(dir);
        assertThat(read.skipped()).isEqualTo(2);
        assertThat(read.records()).extracting(r -> r.get("n").asInt()).containsExactly(0, 2);

        Journal reopened = Journal.open(dir, read.records(), 1 << 20, new SimpleMeterRegistry());
        reopened.append(record(4)).get(10, TimeUnit.SECONDS);
        reopened.close();
        Journal.Contents again = Journal.read(dir);
        assertThat(again.skipped()).as("the rewrite on open dropped the bad lines").isZero();
        assertThat(again.records()).extracting(r -> r.get("n").asInt()).containsExactly(0, 2, 4);
    }

    @Test
    void compactionReplacesTheFileWithTheRecordsGivenAfterWhatWasAppendedBefore() throws Exception {
        Journal journal = Journal.open(dir, List.of(), 100, new SimpleMeterRegistry());
        for (int i = 0; i < 10; i++) {
            journal.append(record(i));
        }
        journal.flush().get(10, TimeUnit.SECONDS);
        assertThat(journal.wantsCompaction()).isTrue();
        CompletableFuture<Void> compacted = journal.compact(List.of(record(100)));
        journal.append(record(101)).get(10, TimeUnit.SECONDS);
        assertThat(compacted).isCompleted();
        assertThat(journal.wantsCompaction()).isFalse();
        journal.close();
        assertThat(Journal.read(dir).records()).extracting(r -> r.get("n").asInt()).containsExactly(100, 101);
        assertThat(Files.exists(dir.resolve("jobs.log.rewrite"))).isFalse();
    }

    @Test
    void aHaltedJournalKeepsWhatWasDurable() throws IOException, Exception {
        Journal journal = Journal.open(dir, List.of(), 1 << 20, new SimpleMeterRegistry());
        journal.append(record(1)).get(10, TimeUnit.SECONDS);
        journal.halt();
        assertThat(Journal.read(dir).records()).extracting(r -> r.get("n").asInt()).containsExactly(1);
    }
}
