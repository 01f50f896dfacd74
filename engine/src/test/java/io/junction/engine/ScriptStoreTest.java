package io.junction.engine;

import io.junction.core.RoutingPattern;
import io.junction.core.state.StateStore;
import io.junction.core.state.VersionConflictException;
import io.junction.core.testing.MemoryStateStore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Scripts in the state port: compare-and-set, and the one-time import of the files older servers wrote. */
class ScriptStoreTest {

    @TempDir
    Path dir;

    static ScriptStore.Stored stored(String name, String code, long version) {
        return new ScriptStore.Stored(new ScriptSource(name, Language.JAVASCRIPT, code.getBytes(StandardCharsets.UTF_8),
                List.of(RoutingPattern.of("a.#")), "api"), version, 1L);
    }

    @Test
    void aWriteAgainstAStaleVersionIsRefusedAndChangesNothing() {
        ScriptStore store = new ScriptStore(new MemoryStateStore(Clock.systemUTC()), "raw");
        store.save(stored("s", "function process(m) {}", 1), StateStore.ABSENT);
        long read = store.find("s").orElseThrow().revision();
        // Another node stores version 2 between our read and our write.
        store.save(stored("s", "function process(m) { return null; }", 2), read);

        assertThatThrownBy(() -> store.save(stored("s", "function process(m) { throw 1; }", 2), read))
                .isInstanceOf(VersionConflictException.class);
        assertThatThrownBy(() -> store.save(stored("s", "function process(m) {}", 1), StateStore.ABSENT))
                .isInstanceOf(VersionConflictException.class);
        assertThatThrownBy(() -> store.delete("s", read)).isInstanceOf(VersionConflictException.class);
        ScriptStore.Found now = store.find("s").orElseThrow();
        assertThat(now.stored().version()).isEqualTo(2);
        assertThat(now.stored().source().text()).isEqualTo("function process(m) { return null; }");
    }

    @Test
    void theFilesOfAnOlderServerAreImportedOnceAndTheScriptsResumeAtTheirOffsets() throws Exception {
        Fixture f = new Fixture(dir);
        try {
            for (int i = 0; i < 5; i++) {
                f.publish("in.x", "{\"n\":" + i + ",\"value\":255}");
            }
            f.close();
            // What an older server left in <data dir>/engine: one file per script and one per offset.
            Path scripts = Files.createDirectories(dir.resolve("engine/scripts"));
            Path offsets = Files.createDirectories(dir.resolve("engine/offsets"));
            Files.writeString(scripts.resolve("s.json"), """
                    {"name":"s","language":"javascript","bind":["in.#"],"origin":"api","owner":"sam","ownerRole":"support",
                     "version":3,"stored":1700000000000,"source":"function process(m) { return {key: 'out', body: {n: m.body.n}}; }"}
                    """);
            // Written before scripts had owners.
            Files.writeString(scripts.resolve("w.json"), "{\"name\":\"w\",\"language\":\"wasm\",\"bind\":[\"in.#\"],\"origin\":\"api\","
                    + "\"version\":1,\"stored\":1700000000000,\"source\":\"" + Base64.getEncoder().encodeToString(Fixture.wasm("pct.wasm")) + "\"}");
            Files.writeString(offsets.resolve("s.json"), "{\"raw\":2,\"processed\":0}");
            Files.writeString(offsets.resolve("w.json"), "{\"raw\":4,\"processed\":0}");
            f.open();

            ScriptInfo s = f.info("s");
            assertThat(s.version()).isEqualTo(3);
            assertThat(s.bind()).containsExactly("in.#");
            assertThat(s.owner()).isEqualTo(new ScriptInfo.Owner("sam", "support"));
            assertThat(f.info("w").owner()).isEqualTo(new ScriptInfo.Owner(ScriptSource.NO_OWNER.user(), "user"));
            assertThat(f.awaitProcessed("out", 3)).extracting(Fixture::text)
                    .containsExactly("{\"n\":2}", "{\"n\":3}", "{\"n\":4}");
            assertThat(f.awaitProcessed("in.x_pct", 1)).hasSize(1);
            assertThat(dir.resolve("engine/scripts/s.json")).doesNotExist();
            assertThat(dir.resolve("engine/scripts/s.json.imported")).exists();
            assertThat(dir.resolve("engine/offsets/w.json.imported")).exists();

            // Imported once: a script deleted afterwards stays deleted, the others keep their own offsets.
            assertThat(f.engine.delete("s")).isTrue();
            f.restart();
            assertThat(f.engine.script("s")).isEmpty();
            assertThat(f.info("w").offset()).isEqualTo(5);
            assertThat(f.info("w").version()).isEqualTo(1);
        } finally {
            f.close();
        }
    }
}
