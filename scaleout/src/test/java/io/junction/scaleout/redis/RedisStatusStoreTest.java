package io.junction.scaleout.redis;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
import io.junction.core.testing.MemoryStream;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What the Redis status store does beyond the contract: batches, the stored shape, exact bodies, glob-safe scans. */
class RedisStatusStoreTest {

    private static Message at(String key, String body) {
        return new Message("id-" + key + body.length(), 1_700_000_000_000L, "t/x", RoutingKey.of(key), "dev-1", Message.STATUS, body);
    }

    @Test
    void aBatchKeepsTheLastEntryOfEachKeyAndIgnoresWhatWasSeen() {
        String url = RedisTestServer.freshUrl();
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE)) {
            status.updateAll(List.of(new StreamEntry(0, at("a.b", "{\"v\":0}")), new StreamEntry(1, at("c.d", "{\"v\":1}"))));
            List<StreamEntry> batch = new ArrayList<>();
            batch.add(new StreamEntry(1, at("c.d", "{\"v\":\"replayed\"}")));
            for (int i = 2; i < 1000; i++) {
                batch.add(new StreamEntry(i, at(i % 2 == 0 ? "a.b" : "e.f", "{\"v\":" + i + "}")));
            }
            batch.add(new StreamEntry(500, at("c.d", "{\"v\":\"again\"}")));
            status.updateAll(batch);
            assertThat(status.nextOffset()).isEqualTo(1000);
            assertThat(status.get(RoutingKey.of("a.b")).map(Message::body)).contains("{\"v\":998}");
            assertThat(status.get(RoutingKey.of("e.f")).map(Message::body)).contains("{\"v\":999}");
            assertThat(status.get(RoutingKey.of("c.d")).map(Message::body)).as("entries already seen change nothing")
                    .contains("{\"v\":1}");
        }
    }

    @Test
    void eachKeyIsStoredAsTheMessageJsonWithItsBodyExactlyAsItWas() {
        String url = RedisTestServer.freshUrl();
        String body = "{\"v\": 1.0E2, \"s\":\"caf\\u00e9\",\"n\":{\"deep\":[1,2,{}]}}";
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE)) {
            status.update(new StreamEntry(7, at("room.lamp", body)));
            assertThat(status.get(RoutingKey.of("room.lamp"))).contains(at("room.lamp", body));
        }
        try (Jedis redis = new Jedis(URI.create(url))) {
            assertThat(redis.hget("junction/last", "room.lamp")).isEqualTo("{\"id\":\"id-room.lamp" + body.length()
                    + "\",\"ts\":1700000000000,\"topic\":\"t/x\",\"key\":\"room.lamp\",\"device\":\"dev-1\",\"kind\":\"status\",\"body\":"
                    + body + "}");
            assertThat(redis.get("junction/last-offset")).isEqualTo("8");
            redis.hset("junction/last", "room.broken", "not json");
        }
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE)) {
            assertThat(status.find(RoutingPattern.of("room.*"))).extracting(m -> m.key().value()).containsExactly("room.lamp");
            assertThat(status.malformedEntries()).isEqualTo(1);
        }
    }

    @Test
    void followingTheRawStreamCatchesUpBeforeReturningAndStaysCurrent() throws Exception {
        String url = RedisTestServer.freshUrl();
        MemoryStream raw = new MemoryStream("raw");
        for (int i = 0; i < 300; i++) {
            raw.append(at("room.device" + (i % 30) + ".level", "{\"v\":" + i + "}")).join();
        }
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE); StreamFollower f = status.follow(raw)) {
            assertThat(status.nextOffset()).as("caught up before follow returned").isEqualTo(300);
            assertThat(status.get(RoutingKey.of("room.device7.level")).map(Message::body)).contains("{\"v\":277}");
            raw.append(at("room.device7.level", "{\"v\":\"live\"}")).join();
            await().atMost(Duration.ofSeconds(10)).until(() -> status.nextOffset() == 301);
            assertThat(status.get(RoutingKey.of("room.device7.level")).map(Message::body)).contains("{\"v\":\"live\"}");
        }
        MemoryStream other = new MemoryStream("raw");
        other.append(at("other.key", "{}")).join();
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE); StreamFollower f = status.follow(other)) {
            assertThat(status.find(RoutingPattern.ALL)).as("a stream that ends before the status: rebuilt from its start")
                    .extracting(m -> m.key().value()).containsExactly("other.key");
            assertThat(status.nextOffset()).isEqualTo(1);
        }
    }

    @Test
    void findTreatsGlobCharactersInKeysAsText() {
        String url = RedisTestServer.freshUrl();
        try (RedisStatusStore status = RedisStatusStore.open(url, EngineHealth.NONE)) {
            status.updateAll(List.of(new StreamEntry(0, at("a[1].x", "{}")), new StreamEntry(1, at("a1.x", "{}")),
                    new StreamEntry(2, at("a?.x", "{}")), new StreamEntry(3, at("a", "{}"))));
            assertThat(status.find(RoutingPattern.of("a[1].*"))).extracting(m -> m.key().value()).containsExactly("a[1].x");
            assertThat(status.find(RoutingPattern.of("a?.#"))).extracting(m -> m.key().value()).containsExactly("a?.x");
            assertThat(status.find(RoutingPattern.of("a.#"))).extracting(m -> m.key().value()).containsExactly("a");
            assertThat(status.find(RoutingPattern.of("*.x"))).extracting(m -> m.key().value())
                    .containsExactly("a1.x", "a?.x", "a[1].x");
        }
    }
}
