package io.junction.scaleout.postgres;

import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.state.VersionConflictException;
import io.junction.core.testing.Tools;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.PostgresServer;
import io.junction.scaleout.engines.PostgresTestServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** What the state port on PostgreSQL must do beyond the contract: exact text, real concurrency, outages, other nodes. */
class PostgresStateStoreTest {

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private PostgresStateStore open(String url, int poolSize) {
        PostgresStateStore store = PostgresStateStore.open(url, PostgresTestServer.user(), PostgresTestServer.password(),
                poolSize, Clock.systemUTC());
        closing.add(store);
        return store;
    }

    @Test
    void documentsComeBackExactlyAsTheyWereWritten() {
        StateStore store = open(PostgresTestServer.freshSchemaUrl(), 2);
        // Key order, duplicate keys, spacing, escapes and characters outside the BMP: jsonb would change all of these.
        String json = "{ \"z\" : 1,\n\t\"a\":[ 1 ,2 ],  \"a\":\"dup\", \"é\":\"ü ∑ 😀\", \"nul\":\"\\u0000\", \"n\":1.50 }";
        StringBuilder big = new StringBuilder("{\"items\":[");
        for (int i = 0; i < 20_000; i++) {
            big.append(i == 0 ? "" : ", ").append("{\"i\": ").append(i).append(" }");
        }
        String large = big.append("]}").toString();

        assertThat(store.put("docs", "odd", json).json()).isEqualTo(json);
        store.put("docs", "large", large);
        assertThat(store.get("docs", "odd")).map(StateRecord::json).contains(json);
        assertThat(store.get("docs", "large")).map(StateRecord::json).contains(large);
        assertThat(store.list("docs")).extracting(StateRecord::json).containsExactly(large, json);
    }

    @Test
    void keysAreListedInCodePointOrderAndTheLongestKeysFit() {
        StateStore store = open(PostgresTestServer.freshSchemaUrl(), 2);
        for (String key : List.of("b", "é", "B", "a", "ä", "Z")) {
            store.put("keys", key, "{}");
        }
        assertThat(store.list("keys")).extracting(StateRecord::key).containsExactly("B", "Z", "a", "b", "ä", "é");

        // 1024 CJK characters are 3072 bytes: more than a btree entry may hold, so the index must not hold the key.
        Random random = new Random(7);
        StringBuilder key = new StringBuilder();
        while (key.length() < StateStore.MAX_KEY_LENGTH) {
            key.append((char) (0x4E00 + random.nextInt(20_000)));
        }
        String longest = key.toString();
        assertThat(store.put("long", longest, "{\"n\":1}", StateStore.ABSENT).version()).isEqualTo(1);
        assertThat(store.put("long", longest, "{\"n\":2}", 1).version()).isEqualTo(2);
        assertThat(store.get("long", longest)).map(StateRecord::json).contains("{\"n\":2}");
        assertThat(store.list("long")).extracting(StateRecord::key).containsExactly(longest);
        assertThat(store.delete("long", longest, 2)).isTrue();
    }

    @Test
    void aRawNulCharacterIsRefusedWithASentence() {
        StateStore store = open(PostgresTestServer.freshSchemaUrl(), 1);
        assertThatThrownBy(() -> store.put("docs", "a", "{\"s\":\"\0\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("escape it as \\u0000");
        assertThat(store.get("docs", "a")).isEmpty();
    }

    @Test
    void concurrentCompareAndSetOnOneKeyHasExactlyOneWinnerPerVersion() throws Exception {
        StateStore store = open(PostgresTestServer.freshSchemaUrl(), 8);
        store.put("counters", "c", "{\"n\":0}", StateStore.ABSENT);
        int threads = 8;
        int incrementsEach = 25;
        Set<Long> versionsWon = ConcurrentHashMap.newKeySet();
        AtomicInteger conflicts = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        Pattern n = Pattern.compile("\"n\":(\\d+)");
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    go.await();
                    for (int won = 0; won < incrementsEach; ) {
                        StateRecord now = store.get("counters", "c").orElseThrow();
                        Matcher m = n.matcher(now.json());
                        assertThat(m.find()).isTrue();
                        long next = Long.parseLong(m.group(1)) + 1;
                        try {
                            StateRecord written = store.put("counters", "c", "{\"n\":" + next + "}", now.version());
                            assertThat(written.version()).isEqualTo(now.version() + 1);
                            assertThat(versionsWon.add(written.version())).as("version %d won twice", written.version()).isTrue();
                            won++;
                        } catch (VersionConflictException e) {
                            assertThat(e.actual()).isGreaterThan(now.version());
                            conflicts.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
        int total = threads * incrementsEach;
        StateRecord last = store.get("counters", "c").orElseThrow();
        assertThat(last.version()).isEqualTo(total + 1);
        assertThat(last.json()).isEqualTo("{\"n\":" + total + "}");
        assertThat(versionsWon).hasSize(total);
        // Not a target, only a sign the test raced at all.
        assertThat(conflicts.get()).isPositive();
    }

    @Test
    void aBatchThatPostgresRefusesHalfWayLeavesNothing() throws Exception {
        String url = PostgresTestServer.freshSchemaUrl();
        StateStore store = open(url, 2);
        store.put("model", "a", "{\"v\":1}");
        // A trigger refuses one row: an engine error in the middle of a batch, not a version conflict.
        try (Connection c = DriverManager.getConnection(url, PostgresTestServer.user(), PostgresTestServer.password());
             Statement s = c.createStatement()) {
            s.execute("CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " IF NEW.key = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$");
            s.execute("CREATE TRIGGER refuse_boom BEFORE INSERT OR UPDATE ON junction_state FOR EACH ROW EXECUTE FUNCTION refuse_boom()");
        }
        List<StateChange> seen = new CopyOnWriteArrayList<>();
        store.watch("model", seen::add);

        assertThatThrownBy(() -> store.write(List.of(
                new StateWrite.Put("model", "a", "{\"v\":2}", StateStore.ANY),
                new StateWrite.Put("model", "b", "{}", StateStore.ABSENT),
                new StateWrite.Put("model", "boom", "{}", StateStore.ANY),
                new StateWrite.Put("model", "c", "{}", StateStore.ANY))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("postgres").hasMessageContaining("boom refused");

        assertThat(store.get("model", "a")).map(StateRecord::version).contains(1L);
        assertThat(store.get("model", "a")).map(StateRecord::json).contains("{\"v\":1}");
        assertThat(store.list("model")).extracting(StateRecord::key).containsExactly("a");
        assertThat(seen).isEmpty();
        // The store is still usable afterwards, and versions carry on from the committed one.
        assertThat(store.put("model", "a", "{\"v\":3}", 1).version()).isEqualTo(2);
    }

    @Test
    void openSaysWherePostgresDoesNotAnswer() {
        int port = Tools.freePort();
        assertThatThrownBy(() -> PostgresStateStore.open("jdbc:postgresql://127.0.0.1:" + port + "/junction", "junction",
                "x", 1, Clock.systemUTC()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("postgres at 127.0.0.1:" + port + "/junction does not answer");
    }

    @Test
    void twoStoresOnOneDatabaseHearEachOthersChangesOnce() {
        String url = PostgresTestServer.freshSchemaUrl();
        PostgresStateStore a = open(url, 2);
        PostgresStateStore b = open(url, 2);
        PostgresStateStore elsewhere = open(PostgresTestServer.freshSchemaUrl(), 1);
        List<StateChange> heardByA = new CopyOnWriteArrayList<>();
        List<StateChange> heardByB = new CopyOnWriteArrayList<>();
        a.watch("users", heardByA::add);
        b.watch("users", heardByB::add);

        a.put("users", "ada", "{\"role\":\"user\"}");
        await().atMost(Duration.ofSeconds(30)).until(() -> heard(heardByB, "ada", 1));
        b.put("users", "ada", "{\"role\":\"admin\"}", 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> heard(heardByA, "ada", 2));
        String large = "{\"pad\":\"" + "x".repeat(20_000) + "\"}";
        b.put("scripts", "s", "{}");
        b.put("users", "big|key", large);
        elsewhere.put("users", "ada", "{\"other\":\"schema\"}");
        b.write(List.of(new StateWrite.Put("users", "cy", "{}", StateStore.ABSENT),
                new StateWrite.Delete("users", "cy", StateStore.ANY),
                new StateWrite.Put("users", "cy", "{}", StateStore.ABSENT)));
        // Notifications arrive in commit order: once A heard the marker, anything doubled would be here.
        b.put("users", "marker", "{}");
        await().atMost(Duration.ofSeconds(30)).until(() -> heard(heardByA, "marker", 1));
        a.delete("users", "ada");
        a.put("users", "marker", "{}", 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> heard(heardByB, "marker", 2));

        List<String> expected = List.of("ada@1", "ada@2", "big|key@1", "cy@1", "cy@-", "cy@1", "marker@1", "ada@-", "marker@2");
        assertThat(heardByA).extracting(PostgresStateStoreTest::describe).containsExactlyElementsOf(expected);
        assertThat(heardByB).extracting(PostgresStateStoreTest::describe).containsExactlyElementsOf(expected);
        assertThat(heardByA.get(1).record()).map(StateRecord::json).contains("{\"role\":\"admin\"}");
        assertThat(heardByA.get(2).record()).map(StateRecord::json).contains(large);
        assertThat(heardByB.get(0).record()).map(StateRecord::json).contains("{\"role\":\"user\"}");
    }

    @Test
    void aWatcherNeverSeesARecordGoBackWhenNodesRaceOnIt() throws Exception {
        String url = PostgresTestServer.freshSchemaUrl();
        List<PostgresStateStore> stores = List.of(open(url, 2), open(url, 2));
        List<List<Long>> seen = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
        for (int i = 0; i < 2; i++) {
            List<Long> versions = seen.get(i);
            stores.get(i).watch("race", c -> versions.add(c.record().orElseThrow().version()));
        }
        int each = 150;
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            List<Future<?>> done = new ArrayList<>();
            for (PostgresStateStore s : stores) {
                done.add(pool.submit(() -> {
                    for (int n = 0; n < each; n++) {
                        s.put("race", "k", "{\"n\":" + n + "}");
                    }
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
        long last = 2L * each;
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.get(0).contains(last) && seen.get(1).contains(last));
        for (List<Long> versions : seen) {
            assertThat(versions).isSorted().doesNotHaveDuplicates().endsWith(last);
        }
    }

    private static boolean heard(List<StateChange> changes, String key, long version) {
        return changes.stream().anyMatch(c -> c.key().equals(key) && c.record().map(StateRecord::version).orElse(0L) == version);
    }

    private static String describe(StateChange c) {
        return c.key() + "@" + c.record().map(r -> String.valueOf(r.version())).orElse("-");
    }

    @Test
    void operationsFailClearlyWhilePostgresIsDownAndResumeWhenItReturns(@TempDir Path dir) throws Exception {
        if (!PostgresServer.installed()) {
            Tools.missing("PostgreSQL is not installed: install it with 'apt-get install postgresql'");
        }
        PostgresServer server = PostgresServer.startForTests(dir, Tools.freePort());
        closing.add(() -> PostgresTestServer.delete(dir));
        List<String> health = new CopyOnWriteArrayList<>();
        EngineHealth recorder = new EngineHealth() {
            @Override
            public void up() {
                health.add("up");
            }

            @Override
            public void down(String reason) {
                health.add("down: " + reason);
            }
        };
        PostgresStateStore store = PostgresStateStore.open(server.url(), server.user(), server.password(), 2,
                Clock.systemUTC(), recorder);
        closing.add(store);
        try {
            store.put("users", "ada", "{\"n\":1}");
            assertThat(health).containsExactly("up");

            long killed = System.nanoTime();
            server.kill();
            assertThatThrownBy(() -> store.put("users", "ada", "{\"n\":2}"))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("postgres at 127.0.0.1:" + server.port() + "/junction does not answer");
            long failedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertThatThrownBy(() -> store.get("users", "ada")).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("does not answer");
            // Hikari's default would keep a caller 30 s; the store gives up after its 5 s connection timeout.
            assertThat(failedAfter).isLessThan(25_000);
            assertThat(health).hasSize(2);
            assertThat(health.get(1)).startsWith("down: postgres at 127.0.0.1:" + server.port());

            long restarting = System.nanoTime();
            server = server.restart();
            // The probe notices without any traffic.
            await().atMost(Duration.ofSeconds(30)).until(() -> health.getLast().equals("up"));
            long upAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restarting);
            assertThat(store.get("users", "ada")).map(StateRecord::json).contains("{\"n\":1}");
            assertThat(store.put("users", "ada", "{\"n\":2}", 1).version()).isEqualTo(2);
            assertThat(health).containsExactly(health.get(0), health.get(1), "up");
            System.out.printf("postgres state outage: failed after %d ms, healthy %d ms after the restart began%n",
                    failedAfter, upAfter);
        } finally {
            server.stop();
        }
    }

    @Test
    void watchHearsOtherWritersAgainAfterPostgresReturns(@TempDir Path dir) throws Exception {
        if (!PostgresServer.installed()) {
            Tools.missing("PostgreSQL is not installed: install it with 'apt-get install postgresql'");
        }
        PostgresServer server = PostgresServer.startForTests(dir, Tools.freePort());
        closing.add(() -> PostgresTestServer.delete(dir));
        try {
            PostgresStateStore a = PostgresStateStore.open(server.url(), server.user(), server.password(), 1, Clock.systemUTC());
            closing.add(a);
            List<StateChange> heard = new CopyOnWriteArrayList<>();
            a.watch("users", heard::add);
            server.kill();
            server = server.restart();
            PostgresStateStore b = PostgresStateStore.open(server.url(), server.user(), server.password(), 1, Clock.systemUTC());
            closing.add(b);
            // The listen connection comes back by itself; until then a change may go unheard, so keep writing.
            AtomicInteger n = new AtomicInteger();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
                b.put("users", "k" + n.incrementAndGet(), "{}");
                return !heard.isEmpty();
            });
            assertThat(heard.getFirst().record()).map(StateRecord::json).contains("{}");
            assertThat(a.get("users", heard.getFirst().key())).isPresent();
        } finally {
            server.stop();
        }
    }
}
