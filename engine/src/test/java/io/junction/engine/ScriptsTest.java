package io.junction.engine;

import io.junction.core.Message;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** JavaScript and WASM scripts on real streams: transforms, validation, limits, suspension, isolation. */
class ScriptsTest {

    static final String PCT = "function process(m) { return {key: m.key + '_pct', body: {value: m.body.value * 100 / 255}}; }";

    @TempDir
    Path dir;

    @Test
    void javascriptTransformsMatchingMessagesIntoTheProcessedStream() {
        try (Fixture f = new Fixture(dir)) {
            f.store("pct", Language.JAVASCRIPT, PCT, "bedroom.*.brightness");
            long offset = f.publish("bedroom.light.brightness", "{\"value\":255}");
            f.publish("kitchen.light.brightness", "{\"value\":1}");
            f.publish("bedroom.light.brightness", "{\"value\":51}");

            List<Message> out = f.awaitProcessed("bedroom.light.brightness_pct", 2);
            assertThat(out).extracting(Message::body).containsExactly("{\"value\":100}", "{\"value\":20}");
            Message first = out.getFirst();
            assertThat(first.kind()).isEqualTo("processed");
            assertThat(first.topic()).isEqualTo("bedroom/light/brightness");
            assertThat(first.device()).isEqualTo("bedroom");
            assertThat(first.id()).isEqualTo(new OutputIds("live:pct").id(first.ts(), offset, 0));
            assertThat(f.processed()).hasSize(2);
            await().untilAsserted(() -> assertThat(f.info("pct").counters().in()).isEqualTo(2));
        }
    }

    @Test
    void aScriptMayGiveSeveralOutputsOrNoneAndReadItsLog() {
        try (Fixture f = new Fixture(dir)) {
            f.store("split", Language.JAVASCRIPT, """
                    function init(ctx) { junction.log('init', ctx.name, ctx.bind); }
                    function process(m) {
                      if (m.body.value < 0) return null;
                      console.log('got', m.body.value);
                      return [{key: 'a.copy', body: m.body}, {key: 'b.copy', body: m.body.value, kind: 'derived'}];
                    }
                    """, "sensor.#");
            f.publish("sensor.x", "{\"value\":-1}");
            f.publish("sensor.x", "{\"value\":7}");
            assertThat(f.awaitProcessed("b.copy", 1).getFirst().body()).isEqualTo("{\"value\":7}");
            assertThat(f.processedWithKey("b.copy").getFirst().kind()).isEqualTo("derived");
            assertThat(f.processedWithKey("a.copy")).extracting(Message::body).containsExactly("{\"value\":7}");
            assertThat(f.info("split").logs()).containsExactly("init split [\"sensor.#\"]", "got 7");
        }
    }

    @Test
    void invalidJavascriptIsRefusedWithItsLineAndTheRunningVersionStays() {
        try (Fixture f = new Fixture(dir)) {
            f.store("pct", Language.JAVASCRIPT, PCT, "t.#");
            assertThatThrownBy(() -> f.store("pct", Language.JAVASCRIPT, "function process(m) {\n  return m.;\n}", "t.#"))
                    .isInstanceOf(ScriptRejectedException.class)
                    .hasMessageContaining("SyntaxError")
                    .satisfies(e -> assertThat(((ScriptRejectedException) e).line()).isEqualTo(2));
            assertThatThrownBy(() -> f.store("pct", Language.JAVASCRIPT, "function handle(m) {}", "t.#"))
                    .isInstanceOf(ScriptRejectedException.class)
                    .hasMessageContaining("must define a function process(message)");
            assertThatThrownBy(() -> f.store("pct", Language.JAVASCRIPT, "function process(m) {}\nfunction init() {\n  null.x;\n}", "t.#"))
                    .isInstanceOf(ScriptRejectedException.class)
                    .hasMessageContaining("TypeError")
                    .satisfies(e -> assertThat(((ScriptRejectedException) e).line()).isEqualTo(3));

            assertThat(f.info("pct").version()).isEqualTo(1);
            f.publish("t.v", "{\"value\":255}");
            assertThat(f.awaitProcessed("t.v_pct", 1).getFirst().body()).isEqualTo("{\"value\":100}");
        }
    }

    @Test
    void anInfiniteLoopAndAMemoryBombAreStoppedWhileAnotherScriptGoesOn() {
        try (Fixture f = new Fixture(dir, Fixture.settings(2_000, 32, 10, List.of()))) {
            f.store("bad", Language.JAVASCRIPT, """
                    function process(m) {
                      if (m.body.value === 'loop') { while (true) {} }
                      // Large blocks: the bomb must pass the memory limit long before the time limit, even on a busy machine.
                      if (m.body.value === 'bomb') { const a = []; while (true) { a.push(new Array(1 << 20).fill(a.length)); } }
                      return {key: 'bad.ok', body: m.body};
                    }
                    """, "x.#");
            f.store("good", Language.JAVASCRIPT, "function process(m) { return {key: 'good.ok', body: m.body}; }", "x.#");

            f.publish("x.a", "{\"value\":\"loop\"}");
            f.publish("x.a", "{\"value\":\"bomb\"}");
            f.publish("x.a", "{\"value\":\"fine\"}");

            assertThat(f.awaitProcessed("good.ok", 3)).hasSize(3);
            assertThat(f.awaitProcessed("bad.ok", 1)).extracting(Message::body).containsExactly("{\"value\":\"fine\"}");
            ScriptInfo bad = f.info("bad");
            assertThat(bad.state()).isEqualTo("running");
            assertThat(bad.counters().failed()).isEqualTo(2);
            assertThat(bad.counters().timeLimitStops()).isEqualTo(1);
            assertThat(bad.counters().memoryLimitStops()).isEqualTo(1);
            assertThat(bad.recentErrors()).extracting(ScriptInfo.Failure::reason)
                    .anySatisfy(r -> assertThat(r).contains("time limit"))
                    .anySatisfy(r -> assertThat(r).contains("memory limit"));
        }
    }

    @Test
    void repeatedFailuresSuspendTheScriptAndANewVersionResumesItWithoutLosingMessages() {
        try (Fixture f = new Fixture(dir, Fixture.settings(1_000, 64, 3, List.of()))) {
            f.store("s", Language.JAVASCRIPT, "function process(m) { throw new Error('no ' + m.body.value); }", "k.#");
            for (int i = 0; i < 5; i++) {
                f.publish("k.x", "{\"value\":" + i + "}");
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> f.info("s").state().equals("suspended"));
            ScriptInfo s = f.info("s");
            assertThat(s.reason()).contains("3 failed messages in a row").contains("Error: no 2");
            assertThat(s.lastError().line()).isEqualTo(1);
            assertThat(s.counters().failed()).isEqualTo(3);

            f.store("s", Language.JAVASCRIPT, "function process(m) { return {key: 'k.fixed', body: m.body}; }", "k.#");
            assertThat(f.awaitProcessed("k.fixed", 2)).extracting(Message::body)
                    .containsExactly("{\"value\":3}", "{\"value\":4}");
            assertThat(f.info("s").state()).isEqualTo("running");
        }
    }

    @Test
    void badOutputsFailTheMessageWithAReason() {
        try (Fixture f = new Fixture(dir)) {
            f.store("o", Language.JAVASCRIPT, """
                    function process(m) {
                      if (m.body.value === 1) return {key: 'not a key', body: {}};
                      if (m.body.value === 2) return {body: {}};
                      if (m.body.value === 3) return 'text';
                      return {key: 'o.ok', body: m.body};
                    }
                    """, "o.in");
            for (int i = 1; i <= 4; i++) {
                f.publish("o.in", "{\"value\":" + i + "}");
            }
            f.awaitProcessed("o.ok", 1);
            await().untilAsserted(() -> assertThat(f.info("o").counters().failed()).isEqualTo(3));
            assertThat(f.info("o").recentErrors()).extracting(ScriptInfo.Failure::reason)
                    .anySatisfy(r -> assertThat(r).contains("white space"))
                    .anySatisfy(r -> assertThat(r).contains("needs a \"key\""))
                    .anySatisfy(r -> assertThat(r).contains("must return nothing"));
        }
    }

    @Test
    void javascriptCannotReachHostClassesOrTheFileSystem() {
        try (Fixture f = new Fixture(dir)) {
            assertThatThrownBy(() -> f.store("host", Language.JAVASCRIPT,
                    "const S = Java.type('java.lang.System');\nfunction process(m) {}", "#"))
                    .isInstanceOf(ScriptRejectedException.class).hasMessageContaining("Java is not defined");
            f.store("probe", Language.JAVASCRIPT, """
                    function process(m) {
                      const found = [typeof Java, typeof Polyglot, typeof require, typeof quit].join(',');
                      let read;
                      try { load('/etc/passwd'); read = 'read'; } catch (e) { read = 'refused'; }
                      return {key: 'probe.out', body: {found, read}};
                    }
                    """, "p.#");
            f.publish("p.x", "{}");
            assertThat(f.awaitProcessed("probe.out", 1).getFirst().body())
                    .isEqualTo("{\"found\":\"undefined,undefined,undefined,undefined\",\"read\":\"refused\"}");
        }
    }

    @Test
    void statusIsNullWhenTheEngineHasNoStatusStore() {
        // No status store in this fixture: status() finds nothing, and says so with null.
        try (Fixture f = new Fixture(dir)) {
            f.store("st", Language.JAVASCRIPT, "function process(m) { return {key: 'st.out', body: {s: junction.status('a.b')}}; }", "st.in");
            f.publish("st.in", "{}");
            assertThat(f.awaitProcessed("st.out", 1).getFirst().body()).isEqualTo("{\"s\":null}");
        }
    }

    @Test
    void aWasmModuleBuiltFromTextDoesTheSameTransform() {
        try (Fixture f = new Fixture(dir)) {
            f.storeWasm("pctw", "pct.wasm", "bedroom.#");
            f.storeWasm("echo", "echo.wasm", "bedroom.#");
            long offset = f.publish("bedroom.light.brightness", "{\"value\":128}");
            assertThat(f.awaitProcessed("bedroom.light.brightness_pct", 1).getFirst().body())
                    .isEqualTo("{\"value\":50.19607843137255}");
            Message echo = f.awaitProcessed("echo", 1).getFirst();
            assertThat(echo.body()).startsWith("{\"offset\":" + offset + ",").contains("\"body\":{\"value\":128}");
            assertThat(f.info("echo").logs()).containsExactly("echo");
        }
    }

    @Test
    void javascriptAndWasmGiveTheSameNumber() {
        try (Fixture f = new Fixture(dir)) {
            f.store("js", Language.JAVASCRIPT, "function process(m) { return {key: 'js.out', body: {value: m.body.value * 100 / 255}}; }", "n");
            f.storeWasm("w", "pct.wasm", "n");
            f.publish("n", "{\"value\":128}");
            assertThat(f.awaitProcessed("n_pct", 1).getFirst().body()).isEqualTo(f.awaitProcessed("js.out", 1).getFirst().body());
        }
    }

    @Test
    void aWasmModuleThatNeverReturnsIsStoppedAndInvalidModulesAreRefused() {
        try (Fixture f = new Fixture(dir, Fixture.settings(200, 64, 10, List.of()))) {
            f.storeWasm("spin", "spin.wasm", "w.#");
            f.storeWasm("pctw", "pct.wasm", "w.#");
            f.publish("w.a", "{\"value\":255}");
            f.publish("w.a", "{\"value\":0}");
            assertThat(f.awaitProcessed("w.a_pct", 2)).hasSize(2);
            await().untilAsserted(() -> assertThat(f.info("spin").counters().timeLimitStops()).isEqualTo(2));
            assertThat(f.info("spin").state()).isEqualTo("running");

            assertThatThrownBy(() -> f.engine.store(Fixture.source("junk", Language.WASM, new byte[]{1, 2, 3}, "#")))
                    .isInstanceOf(ScriptRejectedException.class).hasMessageContaining("not a valid WASM module");
            byte[] noProcess = Fixture.wasm("pct.wasm").clone();
            // Rename the export "process" to "procesz": the module no longer follows the ABI.
            String text = new String(noProcess, java.nio.charset.StandardCharsets.ISO_8859_1).replace("process", "procesz");
            assertThatThrownBy(() -> f.engine.store(Fixture.source("nop", Language.WASM,
                    text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), "#")))
                    .isInstanceOf(ScriptRejectedException.class).hasMessageContaining("must export a function \"process\"");
        }
    }

    @Test
    void deletingAScriptStopsItAndRemovesItsRecords() {
        try (Fixture f = new Fixture(dir)) {
            f.store("gone", Language.JAVASCRIPT, PCT, "d.#");
            assertThat(f.state.get("scripts", "gone")).isPresent();
            assertThat(f.state.get("offsets", "raw/script-gone")).isPresent();
            assertThat(f.engine.delete("gone")).isTrue();
            assertThat(f.engine.delete("gone")).isFalse();
            assertThat(f.engine.script("gone")).isEmpty();
            assertThat(f.state.get("scripts", "gone")).isEmpty();
            assertThat(f.state.get("offsets", "raw/script-gone")).isEmpty();
            f.publish("d.x", "{\"value\":1}");
            f.store("canary", Language.JAVASCRIPT, "function process(m) { return {key: 'canary', body: {}}; }", "d.#");
            f.publish("d.x", "{\"value\":1}");
            f.awaitProcessed("canary", 1);
            assertThat(f.processedWithKey("d.x_pct")).isEmpty();
        }
    }
}
