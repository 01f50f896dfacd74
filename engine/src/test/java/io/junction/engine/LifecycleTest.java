package io.junction.engine;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;
import io.junction.store.state.SqliteStateStore;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Hot swaps, restarts, crash recovery, replay, pass-through and the plugins folder, on real streams. */
class LifecycleTest {

    static String tagged(String tag) {
        return "function process(m) { return {key: 'out', body: {n: m.body.n, v: '" + tag + "'}}; }";
    }

    @TempDir
    Path dir;

    /** Publishes {@code {"n": from}} up to {@code {"n": to - 1}} on {@code in.x}, each with the {@code more} fields after n. */
    static void publishIn(Fixture f, int from, int to, String more) {
        for (int i = from; i < to; i++) {
            f.publish("in.x", "{\"n\":" + i + more + "}");
        }
    }

    /** Outputs of key {@code out} by source number: each must appear exactly once. */
    static Map<Long, String> bySource(Fixture f) throws Exception {
        Map<Long, String> seen = new HashMap<>();
        for (Message m : f.processedWithKey("out")) {
            JsonNode b = Json.parse(m.body());
            String before = seen.put(b.get("n").asLong(), b.get("v").asText());
            assertThat(before).as("source %s processed twice", b.get("n")).isNull();
        }
        return seen;
    }

    @Test
    void aHotSwapUnderASteadyStreamLosesAndRepeatsNothing() throws Exception {
        try (Fixture f = new Fixture(dir)) {
            f.store("s", Language.JAVASCRIPT, tagged("v1"), "in.#");
            AtomicBoolean run = new AtomicBoolean(true);
            AtomicInteger sent = new AtomicInteger();
            Thread producer = Thread.ofPlatform().start(() -> {
                while (run.get()) {
                    f.publish("in.x", "{\"n\":" + sent.getAndIncrement() + "}");
                }
            });
            await().until(() -> sent.get() > 2_000);
            ScriptInfo swapped = f.store("s", Language.JAVASCRIPT, tagged("v2"), "in.#");
            await().until(() -> sent.get() > swapped.versionSince() + 2_000);
            run.set(false);
            producer.join();
            int total = sent.get();
            await().atMost(Duration.ofSeconds(30)).until(() -> f.processedWithKey("out").size() >= total);

            Map<Long, String> seen = bySource(f);
            assertThat(seen).hasSize(total);
            // v1 up to the swap, v2 from it on: the swap is one clean cut in the stream.
            long firstV2 = seen.entrySet().stream().filter(e -> e.getValue().equals("v2")).mapToLong(Map.Entry::getKey).min().orElseThrow();
            long lastV1 = seen.entrySet().stream().filter(e -> e.getValue().equals("v1")).mapToLong(Map.Entry::getKey).max().orElseThrow();
            assertThat(lastV1 + 1).isEqualTo(firstV2);
            assertThat(f.info("s").version()).isEqualTo(2);
            assertThat(f.info("s").counters().failed()).isZero();
        }
    }

    @Test
    void aNewVersionWithOtherPatternsTakesOverFromTheNextMessageWithNothingMissedOrRepeated() throws Exception {
        try (Fixture f = new Fixture(dir)) {
            // Slow, so a backlog builds up and the new version lands in the middle of it.
            f.store("s", Language.JAVASCRIPT, "function process(m) { const t = Date.now(); while (Date.now() - t < 50) {} "
                    + "return {key: 'out', body: {n: m.body.n, v: 'v1'}}; }", "a.#");
            int total = 100;
            for (int i = 0; i < total; i++) {
                f.publish(i % 2 == 0 ? "a.x" : "b.x", "{\"n\":" + i + "}");
            }
            ScriptInfo swapped = f.store("s", Language.JAVASCRIPT, tagged("v2"), "a.#", "b.#");
            long cut = swapped.versionSince();
            assertThat(cut).as("the swap landed before the end of the backlog").isLessThan(total - 1);
            long expected = (cut + 1) / 2 + (total - cut);
            await().atMost(Duration.ofSeconds(30)).until(() -> f.processedWithKey("out").size() >= expected);

            Map<Long, String> seen = bySource(f);
            assertThat(seen).hasSize((int) expected);
            seen.forEach((n, v) -> {
                if (n < cut) {
                    assertThat(n % 2).as("before the cut only a.# ran, with v1: %s", n).isZero();
                    assertThat(v).isEqualTo("v1");
                } else {
                    assertThat(v).as("from the cut on every message ran with v2: %s", n).isEqualTo("v2");
                }
            });
        }
    }

    @Test
    void aCleanRestartOfASuspendedScriptGoesOnWhereItStopped() throws Exception {
        Fixture f = new Fixture(dir, Fixture.settings(1_000, 64, 3, List.of()));
        try {
            f.store("s", Language.JAVASCRIPT, "function process(m) { if (m.body.n < 3) throw new Error('no'); "
                    + "return {key: 'out', body: {n: m.body.n, v: 'x'}}; }", "k.#");
            for (int i = 0; i < 5; i++) {
                f.publish("k.x", "{\"n\":" + i + "}");
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> f.info("s").state().equals("suspended"));
            assertThat(f.info("s").offset()).as("the messages after the failures wait").isEqualTo(3);
            assertThat(f.processedWithKey("out")).isEmpty();

            f.restart();
            assertThat(f.awaitProcessed("out", 2)).extracting(Fixture::text).containsExactly("{\"n\":3,\"v\":\"x\"}", "{\"n\":4,\"v\":\"x\"}");
            await().untilAsserted(() -> assertThat(f.info("s").offset()).isEqualTo(5));
            assertThat(f.info("s").counters().in()).as("the failed messages did not run again").isEqualTo(2);
            assertThat(f.info("s").state()).isEqualTo("running");
        } finally {
            f.close();
        }
    }

    @Test
    void aRestartResumesEachScriptAtItsOffset() throws Exception {
        Fixture f = new Fixture(dir);
        try {
            f.store("s", Language.JAVASCRIPT, tagged("a"), "in.#");
            f.storeWasm("w", "pct.wasm", "in.#");
            publishIn(f, 0, 50, ",\"value\":255");
            f.awaitProcessed("out", 50);
            f.awaitProcessed("in.x_pct", 50);
            f.restart();
            long resumedAt = f.info("s").offset();
            assertThat(resumedAt).isEqualTo(50);
            assertThat(f.info("w").offset()).isEqualTo(50);
            publishIn(f, 50, 80, ",\"value\":255");
            f.awaitProcessed("out", 80);
            f.awaitProcessed("in.x_pct", 80);
            assertThat(bySource(f)).hasSize(80);
            assertThat(f.processedWithKey("in.x_pct")).hasSize(80);
            assertThat(f.info("s").counters().in()).isEqualTo(30);
        } finally {
            f.close();
        }
    }

    @Test
    void outputsAppendedBeforeACrashAreNotAppendedAgain() throws Exception {
        Fixture f = new Fixture(dir);
        try {
            f.store("s", Language.JAVASCRIPT, tagged("a"), "in.#");
            publishIn(f, 0, 20, "");
            f.awaitProcessed("out", 20);
            f.close();
            // As if the process died after appending the outputs of offsets 10..19 but before committing past 10:
            // the committed offset and the processed-stream mark are those of that older commit.
            try (SqliteStateStore state = SqliteStateStore.open(dir, Clock.systemUTC())) {
                state.put("offsets", "raw/script-s", "{\"next\":10,\"processed\":10}");
            }
            f.open();
            f.publish("in.x", "{\"n\":20}");
            f.awaitProcessed("out", 21);
            await().untilAsserted(() -> assertThat(f.info("s").offset()).isEqualTo(21));
            assertThat(bySource(f)).hasSize(21);
            assertThat(f.info("s").counters().duplicatesSkipped()).isEqualTo(10);
        } finally {
            f.close();
        }
    }

    @Test
    void replayRerunsPastMessagesBesideLiveProcessingAndRepeatsByteIdentically() {
        try (Fixture f = new Fixture(dir)) {
            for (int i = 0; i < 300; i++) {
                f.publish(i % 3 == 0 ? "other.x" : "in.x", "{\"n\":" + i + "}");
            }
            f.store("s", Language.JAVASCRIPT, tagged("r"), "in.#");
            ReplayInfo r = f.engine.replay("s", 0, Long.MAX_VALUE);
            assertThat(r.to()).isEqualTo(300);
            f.publish("in.x", "{\"n\":1000}");
            await().until(() -> f.engine.replayInfo("s").orElseThrow().done());
            ReplayInfo done = f.engine.replayInfo("s").orElseThrow();
            assertThat(done.state()).isEqualTo("done");
            assertThat(done.matched()).isEqualTo(200);
            assertThat(done.outputs()).isEqualTo(200);
            assertThat(f.awaitProcessed("out", 201).stream().filter(m -> m.kind().equals("processed")).toList())
                    .as("live processing went on: the message published after the script was stored").hasSize(1);

            List<Message> first = replayed(f);
            assertThat(first).hasSize(200);
            f.engine.replay("s", 0, 300);
            await().until(() -> f.engine.replayInfo("s").orElseThrow().done() && replayed(f).size() == 400);
            List<Message> both = replayed(f);
            assertThat(both.subList(200, 400)).isEqualTo(both.subList(0, 200));
        }
    }

    @Test
    void aSecondReplayOfAScriptWaitsForTheFirstToFinish() {
        try (Fixture f = new Fixture(dir)) {
            publishIn(f, 0, 200, "");
            f.store("slow", Language.JAVASCRIPT,
                    "function process(m) { const t = Date.now(); while (Date.now() - t < 5) {} return {key: 'out', body: {n: m.body.n, v: 's'}}; }",
                    "in.#");
            f.engine.replay("slow", 0, 200);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> f.engine.replay("slow", 0, 200))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("running already");
            await().until(() -> f.engine.replayInfo("slow").orElseThrow().done());
            assertThat(f.engine.replay("slow", 100, 200).from()).isEqualTo(100);
        }
    }

    static List<Message> replayed(Fixture f) {
        return f.processed().stream().map(StreamEntry::message).filter(m -> m.kind().equals("replayed")).toList();
    }

    @Test
    void passThroughCopiesMatchingRawMessagesUnchanged() {
        try (Fixture f = new Fixture(dir, Fixture.settings(1_000, 64, 10, List.of("keep.#")))) {
            f.publish("keep.a", "{\"v\":1}");
            f.publish("drop.a", "{\"v\":2}");
            f.publish("keep.b.c", "{\"v\":3}");
            await().until(() -> f.processed().size() >= 2);
            List<StreamEntry> raw = f.raw.read(0, 10);
            assertThat(f.processed()).extracting(StreamEntry::message)
                    .containsExactly(raw.get(0).message(), raw.get(2).message());
            f.engine.replayPassThrough(0, 3);
            await().until(() -> f.engine.replayInfo(Engine.PASS_THROUGH).orElseThrow().done());
            assertThat(replayed(f)).extracting(Message::key).extracting(Object::toString).containsExactly("keep.a", "keep.b.c");
        }
    }

    @Test
    void aModuleDroppedInThePluginsFolderIsStoredAndItsReplacementSwappedIn() throws Exception {
        Path plugins = dir.resolve("plugins");
        Files.createDirectories(plugins);
        Fixture f = new Fixture(dir);
        f.engine.close();
        f.engine = f.builder().plugins(plugins).start();
        try {
            Files.writeString(plugins.resolve("drop.json"), "{\"bind\": [\"bedroom.#\"]}");
            Files.write(plugins.resolve("drop.wasm"), Fixture.wasm("echo.wasm"));
            await().atMost(Duration.ofSeconds(10)).until(() -> f.engine.script("drop").isPresent());
            assertThat(f.info("drop").origin()).isEqualTo("plugin");
            assertThat(f.info("drop").bind()).containsExactly("bedroom.#");
            f.publish("bedroom.light.brightness", "{\"value\":128}");
            f.awaitProcessed("echo", 1);

            Files.write(plugins.resolve("drop.wasm"), Fixture.wasm("pct.wasm"));
            await().atMost(Duration.ofSeconds(10)).until(() -> f.info("drop").version() == 2);
            f.publish("bedroom.light.brightness", "{\"value\":255}");
            assertThat(f.awaitProcessed("bedroom.light.brightness_pct", 1).getFirst().body()).isEqualTo("{\"value\":100}");
            assertThat(f.processedWithKey("echo")).hasSize(1);

            Files.delete(plugins.resolve("drop.wasm"));
            await().atMost(Duration.ofSeconds(10)).until(() -> f.engine.script("drop").isEmpty());
        } finally {
            f.close();
        }
    }
}
