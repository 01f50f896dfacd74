package io.junction.engine;

import io.junction.core.Ids;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.config.JunctionConfig;
import io.junction.core.stream.StreamEntry;
import io.junction.store.log.LogStream;
import io.junction.store.state.SqliteStateStore;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.awaitility.Awaitility.await;

/** Real raw and processed streams (durable logs in a temp folder) and state (SQLite) with an engine over them, restartable. */
final class Fixture implements AutoCloseable {

    final Path dir;
    final EngineSettings settings;
    LogStream raw;
    LogStream processed;
    SqliteStateStore state;
    Engine engine;

    Fixture(Path dir, EngineSettings settings) {
        this.dir = dir;
        this.settings = settings;
        open();
    }

    Fixture(Path dir) {
        this(dir, settings(1_000, 64, 10, List.of()));
    }

    static EngineSettings settings(long timeMillis, long memoryMb, int failures, List<String> passThrough) {
        return new EngineSettings(timeMillis, memoryMb * 1024 * 1024, failures, passThrough, Optional.empty(), 2);
    }

    void open() {
        JunctionConfig.Data data = new JunctionConfig.Data(dir, JunctionConfig.Fsync.NEVER, 20, 64L * 1024 * 1024);
        raw = LogStream.open(dir.resolve("streams/raw"), "raw", data, new SimpleMeterRegistry());
        processed = LogStream.open(dir.resolve("streams/processed"), "processed", data, new SimpleMeterRegistry());
        state = SqliteStateStore.open(dir, Clock.systemUTC());
        engine = builder().start();
    }

    /** An engine over this fixture's streams and state, as the server builds it. */
    Engine.Builder builder() {
        return Engine.builder().streams(raw, processed).state(state).settings(settings).dir(dir.resolve("engine"));
    }

    /** Closes the engine, streams and state as the server does, then opens them again on the same folder. */
    void restart() {
        close();
        open();
    }

    ScriptInfo store(String name, Language language, String source, String... bind) {
        return engine.store(source(name, language, source.getBytes(StandardCharsets.UTF_8), bind));
    }

    ScriptInfo storeWasm(String name, String resource, String... bind) {
        return engine.store(source(name, Language.WASM, wasm(resource), bind));
    }

    static ScriptSource source(String name, Language language, byte[] code, String... bind) {
        return new ScriptSource(name, language, code, Arrays.stream(bind).map(RoutingPattern::of).toList(), "api");
    }

    static byte[] wasm(String resource) {
        try (InputStream in = Fixture.class.getResourceAsStream("/wasm/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("no test resource /wasm/" + resource);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Appends a device message to the raw stream and returns its offset once it is durable. */
    long publish(String key, String body) {
        long ts = System.currentTimeMillis();
        Message m = new Message(Ids.next(ts), ts, key.replace('.', '/'), RoutingKey.of(key), key.split("\\.")[0], "status", body);
        return raw.append(m).join();
    }

    List<StreamEntry> processed() {
        List<StreamEntry> all = new ArrayList<>();
        long at = processed.startOffset();
        while (true) {
            List<StreamEntry> chunk = processed.read(at, 10_000);
            if (chunk.isEmpty()) {
                return all;
            }
            all.addAll(chunk);
            at = chunk.getLast().offset() + 1;
        }
    }

    List<Message> processedWithKey(String key) {
        return processed().stream().map(StreamEntry::message).filter(m -> m.key().value().equals(key)).toList();
    }

    /** Waits until the processed stream holds at least {@code n} messages with {@code key}, and returns them. */
    List<Message> awaitProcessed(String key, int n) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> org.assertj.core.api.Assertions.assertThat(processedWithKey(key).size())
                .as("messages with key %s; the scripts: %s", key, engine.scripts().stream().map(s -> engine.script(s.name()).orElseThrow()).toList())
                .isGreaterThanOrEqualTo(n));
        return processedWithKey(key);
    }

    ScriptInfo info(String name) {
        return engine.script(name).orElseThrow();
    }

    static String text(Message m) {
        return new String(m.body().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        engine.close();
        raw.close();
        processed.close();
        state.close();
    }
}
