package io.junction.server.engine;

import io.junction.server.Clients;
import io.junction.server.RunningServer;

import com.fasterxml.jackson.databind.JsonNode;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The processing engine end to end: one real server, scripts stored over HTTP, devices publishing over MQTT. */
class EngineEndToEndTest {

    /**
     * pct.wasm, built with {@code wat2wasm} (Debian package wabt) from this text, the percent transform in the
     * engine's WASM ABI; the same module is in engine/src/test/resources/wasm with its source.
     * <pre>
     * (module
     *   (import "junction" "input_key" (func $input_key (param i32 i32) (result i32)))
     *   (import "junction" "input_number" (func $input_number (param i32 i32) (result f64)))
     *   (import "junction" "emit_value" (func $emit_value (param i32 i32 f64)))
     *   (memory (export "memory") 2)
     *   (data (i32.const 0) "value")
     *   (data (i32.const 8) "_pct")
     *   (func (export "alloc") (param $len i32) (result i32)
     *     (if (i32.gt_u (local.get $len) (i32.const 65536)) (then (return (i32.const -1))))
     *     (i32.const 65536))
     *   (func (export "process") (param $ptr i32) (param $len i32) (result i32)
     *     (local $klen i32)
     *     (local.set $klen (call $input_key (i32.const 1024) (i32.const 1024)))
     *     (if (i32.gt_u (local.get $klen) (i32.const 1024)) (then (return (i32.const 1))))
     *     (memory.copy (i32.add (i32.const 1024) (local.get $klen)) (i32.const 8) (i32.const 4))
     *     (call $emit_value (i32.const 1024) (i32.add (local.get $klen) (i32.const 4))
     *       (f64.div (f64.mul (call $input_number (i32.const 0) (i32.const 5)) (f64.const 100)) (f64.const 255)))
     *     (i32.const 0)))
     * </pre>
     */
    static final String PCT_WASM = "AGFzbQEAAAABGARgAn9/AX9gAn9/AXxgA39/fABgAX8BfwJEAwhqdW5jdGlvbglpbnB1dF9rZXkAAAhqdW5jdGlvbgxpbnB1dF9udW1iZXIAAQhqdW5jdGlvbgplbWl0X3ZhbHVlAAIDAwIDAAUDAQACBxwDBm1lbW9yeQIABWFsbG9jAAMHcHJvY2VzcwAECmQCEwAgAEGAgARLBEBBfw8LQYCABAtOAQF/QYAIQYAIEAAhAiACQYAISwRAQQEPC0GACCACakEIQQT8CgAAQYAIIAJBBGpBAEEFEAFEAAAAAAAAWUCiRAAAAAAA4G9AoxACQQALCxQCAEEACwV2YWx1ZQBBCAsEX3BjdA==";

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(() -> EngineClients.config(dir, """
            [engine]
            time_limit_ms = 2000
            memory_limit_mb = 32
            """));

    static JsonNode keyed(Clients.Ws ws, String key, int seconds) throws InterruptedException {
        return ws.next("message", f -> f.path("stream").asText().equals("processed")
                && f.path("message").path("key").asText().equals(key), seconds);
    }

    @Test
    void javascriptPythonAndWasmTransformAMosquittoPublishSeenOnTheWebSocket() throws Exception {
        EngineClients.putScript(server.http(), "pct-js", "javascript",
                "function process(m) { return {key: m.key + '_pct', body: {value: m.body.value * 100 / 255}}; }",
                "bedroom.*.brightness");
        EngineClients.putScript(server.http(), "pct-py", "python", """
                def process(m):
                    return {"key": m["key"] + "_py", "body": {"value": m["body"]["value"] * 100 / 255}}
                """, "bedroom.*.brightness");
        JsonNode wasm = EngineClients.putScript(server.http(), "pct-wasm", "wasm", PCT_WASM, "bedroom.light.*");
        assertThat(wasm.get("language").asText()).isEqualTo("wasm");
        assertThat(wasm.get("bytes").asInt()).isEqualTo(268);

        try (Clients.Ws ws = new Clients.Ws(server.http())) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"bedroom.#\",\"source\":\"processed\"}");
            assertThat(ws.next("subscribed", f -> true, 10)).isNotNull();

            EngineClients.mosquittoPub(server.mqtt(), "mesh/b5ea3f/42/M/status", "128");

            JsonNode js = keyed(ws, "bedroom.light.brightness_pct", 30);
            assertThat(js).as("the JavaScript output on the WebSocket").isNotNull();
            JsonNode m = js.get("message");
            assertThat(m.get("body").toString()).isEqualTo("{\"value\":50.19607843137255}");
            assertThat(m.get("kind").asText()).isEqualTo("processed");
            assertThat(m.get("topic").asText()).isEqualTo("mesh/b5ea3f/42/M/status");
            JsonNode py = keyed(ws, "bedroom.light.brightness_py", 60);
            assertThat(py).as("the Python output on the WebSocket").isNotNull();
            assertThat(py.get("message").get("body").toString()).isEqualTo("{\"value\":50.19607843137255}");
        }
        // The WASM module gives the same key and value as the JavaScript one: two such messages in the stream.
        await().atMost(Duration.ofSeconds(20)).until(() -> EngineClients.processed(server.http(), 0).stream()
                .filter(x -> x.get("key").asText().equals("bedroom.light.brightness_pct")).count() == 2);
        assertThat(EngineClients.processed(server.http(), 0).stream()
                .filter(x -> x.get("key").asText().equals("bedroom.light.brightness_pct"))
                .map(x -> x.get("body").toString()).distinct().toList()).containsExactly("{\"value\":50.19607843137255}");
        JsonNode list = EngineClients.get(server.http(), "/api/scripts").json().get("scripts");
        assertThat(list.findValuesAsText("name")).contains("pct-js", "pct-py", "pct-wasm");
    }

    @Test
    void aScriptReadsTheStatusOfAnotherKey() throws Exception {
        EngineClients.mosquittoPub(server.mqtt(), "statuskey/x", "77");
        await().atMost(Duration.ofSeconds(10)).until(() -> EngineClients.get(server.http(), "/api/status?key=statuskey.x").json().has("statuskey.x"));
        EngineClients.putScript(server.http(), "reader", "javascript", """
                function process(m) {
                  const s = junction.status('statuskey.x');
                  return {key: 'reader.out', body: {seen: s === null ? null : s.body.value, none: junction.status('no.such.key')}};
                }
                """, "reader.in");
        EngineClients.mosquittoPub(server.mqtt(), "reader/in", "1");
        await().atMost(Duration.ofSeconds(20)).until(() -> EngineClients.processed(server.http(), 0).stream()
                .anyMatch(x -> x.get("key").asText().equals("reader.out")));
        JsonNode out = EngineClients.processed(server.http(), 0).stream()
                .filter(x -> x.get("key").asText().equals("reader.out")).findFirst().orElseThrow();
        assertThat(out.get("body").toString()).isEqualTo("{\"seen\":77,\"none\":null}");
    }

    @Test
    void anInvalidScriptIsRefusedWithItsLineNumber() throws Exception {
        EngineClients.Reply r = EngineClients.put(server.http(), "/api/scripts/broken", """
                {"language": "javascript", "bind": ["#"], "source": "function process(m) {\\n  return {key: m.key,, body: 1};\\n}"}
                """);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().get("error").asText()).isEqualTo("invalid script");
        assertThat(r.json().get("detail").asText()).contains("SyntaxError");
        assertThat(r.json().get("line").asInt()).isEqualTo(2);
        assertThat(EngineClients.get(server.http(), "/api/scripts/broken").status()).isEqualTo(404);

        EngineClients.Reply py = EngineClients.put(server.http(), "/api/scripts/broken-py", """
                {"language": "python", "bind": ["#"], "source": "x = 1\\ndef process(m)\\n    return m\\n"}
                """);
        assertThat(py.status()).isEqualTo(400);
        assertThat(py.json().get("line").asInt()).isEqualTo(2);

        assertThat(EngineClients.put(server.http(), "/api/scripts/x", "{\"language\":\"cobol\",\"source\":\"s\",\"bind\":[\"#\"]}").json()
                .get("detail").asText()).contains("unknown language 'cobol'");
        assertThat(EngineClients.put(server.http(), "/api/scripts/x", "{\"language\":\"javascript\",\"source\":\"s\",\"bind\":[\"a.*b\"]}").status())
                .isEqualTo(400);
        assertThat(EngineClients.put(server.http(), "/api/scripts/bad%20name", "{\"language\":\"javascript\",\"source\":\"s\",\"bind\":[\"#\"]}").status())
                .isEqualTo(400);
        assertThat(EngineClients.post(server.http(), "/api/scripts/nobody/replay", "{\"from\":0}").status()).isEqualTo(404);
    }

    @Test
    void anInfiniteLoopAndAMemoryBombAreStoppedWhileAnotherScriptGoesOn() throws Exception {
        EngineClients.putScript(server.http(), "runaway", "javascript", """
                function process(m) {
                  if (m.body.value === 'loop') { while (true) {} }
                  // Large blocks: the bomb must pass the memory limit long before the time limit, even on a busy machine.
                  if (m.body.value === 'bomb') { const a = []; while (true) { a.push(new Array(1 << 20).fill(a.length)); } }
                  return {key: 'runaway.ok', body: m.body};
                }
                """, "limits.#");
        EngineClients.putScript(server.http(), "steady", "javascript",
                "function process(m) { return {key: 'steady.ok', body: m.body}; }", "limits.#");
        EngineClients.mosquittoPub(server.mqtt(), "limits/t", "loop");
        EngineClients.mosquittoPub(server.mqtt(), "limits/t", "bomb");
        EngineClients.mosquittoPub(server.mqtt(), "limits/t", "fine");

        await().atMost(Duration.ofSeconds(30)).until(() -> EngineClients.get(server.http(), "/api/scripts/runaway").json()
                .get("counters").get("in").asInt() == 3);
        JsonNode runaway = EngineClients.get(server.http(), "/api/scripts/runaway").json();
        assertThat(runaway.get("state").asText()).isEqualTo("running");
        assertThat(runaway.get("counters").get("timeLimitStops").asInt()).isEqualTo(1);
        assertThat(runaway.get("counters").get("memoryLimitStops").asInt()).isEqualTo(1);
        assertThat(runaway.get("recentErrors").findValuesAsText("reason"))
                .anySatisfy(x -> assertThat(x).contains("time limit"))
                .anySatisfy(x -> assertThat(x).contains("memory limit"));
        List<JsonNode> all = EngineClients.processed(server.http(), 0);
        assertThat(all.stream().filter(x -> x.get("key").asText().equals("steady.ok")).count()).isEqualTo(3);
        assertThat(all.stream().filter(x -> x.get("key").asText().equals("runaway.ok"))
                .map(x -> x.get("body").get("value").asText()).toList()).containsExactly("fine");
    }

    @Test
    void aHotSwapUnderASteadyStreamLosesAndRepeatsNothing() throws Exception {
        JsonNode v1 = EngineClients.putScript(server.http(), "swapper", "javascript",
                "function process(m) { return {key: 'swap.out', body: {n: m.body.n, v: 1}}; }", "swap.#");
        long from = v1.get("offset").asLong();
        int total = 3_000;
        long processedStart = EngineClients.get(server.http(), "/api/streams/processed?limit=1").json().get("end").asLong();
        try (EngineClients.Device device = new EngineClients.Device(server.mqtt(), "swap-device")) {
            for (int i = 0; i < total; i++) {
                if (i == total / 2) {
                    JsonNode v2 = EngineClients.putScript(server.http(), "swapper", "javascript",
                            "function process(m) { return {key: 'swap.out', body: {n: m.body.n, v: 2}}; }", "swap.#");
                    assertThat(v2.get("version").asInt()).isEqualTo(2);
                    assertThat(v2.get("versionSince").asLong()).isGreaterThan(from);
                }
                device.publish("swap/in", "{\"n\":" + i + "}");
            }
            device.drain();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> EngineClients.processed(server.http(), processedStart).stream()
                .filter(x -> x.get("key").asText().equals("swap.out")).count() >= total);
        Map<Integer, Integer> versionBySource = new HashMap<>();
        for (JsonNode x : EngineClients.processed(server.http(), processedStart)) {
            if (x.get("key").asText().equals("swap.out")) {
                Integer before = versionBySource.put(x.get("body").get("n").asInt(), x.get("body").get("v").asInt());
                assertThat(before).as("source %s processed twice", x.get("body").get("n")).isNull();
            }
        }
        assertThat(versionBySource).hasSize(total);
        int lastV1 = versionBySource.entrySet().stream().filter(e -> e.getValue() == 1).mapToInt(Map.Entry::getKey).max().orElse(-1);
        int firstV2 = versionBySource.entrySet().stream().filter(e -> e.getValue() == 2).mapToInt(Map.Entry::getKey).min().orElseThrow();
        assertThat(firstV2).isEqualTo(lastV1 + 1);
    }

    @Test
    void aReplayOf100000MessagesRerunsThemIntoTheProcessedStream() throws Exception {
        int total = 100_000;
        long rawStart = EngineClients.get(server.http(), "/api/streams/raw?limit=1").json().get("end").asLong();
        try (EngineClients.Device device = new EngineClients.Device(server.mqtt(), "replay-device")) {
            for (int i = 0; i < total; i++) {
                device.publish("replay/in", "{\"n\":" + i + "}");
            }
            device.drain();
        }
        EngineClients.putScript(server.http(), "replayer", "javascript",
                "function process(m) { return {key: 'replay.out', body: {n: m.body.n}}; }", "replay.#");
        long processedStart = EngineClients.get(server.http(), "/api/streams/processed?limit=1").json().get("end").asLong();
        EngineClients.Reply started = EngineClients.post(server.http(), "/api/scripts/replayer/replay", "{\"from\": " + rawStart + "}");
        assertThat(started.status()).as(started.text()).isEqualTo(202);

        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() ->
                EngineClients.get(server.http(), "/api/scripts/replayer").json().get("replay").get("state").asText().equals("done"));
        JsonNode replay = EngineClients.get(server.http(), "/api/scripts/replayer").json().get("replay");
        assertThat(replay.get("matched").asLong()).isEqualTo(total);
        assertThat(replay.get("outputs").asLong()).isEqualTo(total);
        assertThat(replay.get("failed").asLong()).isZero();

        List<JsonNode> out = EngineClients.processed(server.http(), processedStart).stream()
                .filter(x -> x.get("kind").asText().equals("replayed") && x.get("key").asText().equals("replay.out")).toList();
        assertThat(out).hasSize(total);
        for (int i = 0; i < total; i++) {
            assertThat(out.get(i).get("body").get("n").asInt()).isEqualTo(i);
        }
    }
}
