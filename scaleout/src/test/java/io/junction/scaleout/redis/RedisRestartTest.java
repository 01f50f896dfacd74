package io.junction.scaleout.redis;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.device.ModuleId;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.stream.StreamEntry;
import io.junction.core.testing.Tools;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.RedisServer;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Redis killed and started again under the stores: the outage is reported and clear, nothing answered before it is
 * lost (append-only file), and both stores and the subscriber carry on by themselves once it is back.
 */
class RedisRestartTest {

    private static final ModuleId LAMP = ModuleId.of("lamp-1");

    /** What the stores reported, in order: "up" or "down <reason>". */
    static final class RecordingHealth implements EngineHealth {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void up() {
            events.add("up");
        }

        @Override
        public void down(String reason) {
            events.add("down " + reason);
        }

        String last() {
            return events.isEmpty() ? "" : events.getLast();
        }
    }

    @Test
    void aKilledRedisIsReportedAndEverythingResumesAfterItsRestart(@TempDir Path dir) throws Exception {
        RedisTestServer.url(); // skips (or fails under CI) with what to install when redis-server is missing
        int port = Tools.freePort();
        RedisServer server = RedisServer.start(dir, port, true);
        RecordingHealth health = new RecordingHealth();
        List<String> heard = new CopyOnWriteArrayList<>();
        AtomicInteger resynced = new AtomicInteger();
        try (RedisModuleStatusStore modules = RedisModuleStatusStore.open(server.url(), health);
             RedisStatusStore status = RedisStatusStore.open(server.url(), EngineHealth.NONE);
             ModuleStatusStore.Subscription s = modules.listen(new ModuleStatusStore.Listener() {
                 @Override
                 public void statusChanged(ModuleId module, String name, Optional<String> json) {
                     heard.add(module + " " + name + "=" + json.orElse("(deleted)"));
                 }

                 @Override
                 public void resynced() {
                     resynced.incrementAndGet();
                 }
             })) {
            assertThat(health.events).containsExactly("up");
            modules.set(LAMP, "power", "true");
            status.update(new StreamEntry(0, message("room.lamp.power", "{\"on\":true}")));
            assertThat(heard).containsExactly(LAMP + " power=true");
            assertThat(resynced).as("the first subscription misses nothing").hasValue(0);

            long oldPid = server.pid();
            server.kill();
            assertThat(ProcessHandle.of(oldPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();

            await().atMost(Duration.ofSeconds(10)).until(() -> health.last().startsWith("down "));
            assertThat(health.last()).isEqualTo(health.events.get(1)).startsWith("down redis at 127.0.0.1:" + port + ": ");
            assertThatThrownBy(() -> modules.set(LAMP, "power", "false")).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("redis at 127.0.0.1:" + port + ": set of status/lamp-1 power failed: ");
            assertThatThrownBy(() -> status.update(new StreamEntry(1, message("room.lamp.power", "{\"on\":false}"))))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("redis at 127.0.0.1:" + port + ": ");

            server = server.restart();
            await().atMost(Duration.ofSeconds(15)).until(() -> health.last().equals("up"));
            await().atMost(Duration.ofSeconds(15)).until(() -> modules.resubscribes() == 1);
            await().atMost(Duration.ofSeconds(5)).until(() -> resynced.get() == 1);

            assertThat(modules.get(LAMP, "power")).as("answered before the kill, kept in the append-only file").contains("true");
            assertThat(status.get(RoutingKey.of("room.lamp.power")).map(Message::body)).contains("{\"on\":true}");
            assertThat(status.nextOffset()).isEqualTo(1);

            assertThat(modules.set(LAMP, "power", "false")).isTrue();
            status.update(new StreamEntry(1, message("room.lamp.power", "{\"on\":false}")));
            assertThat(status.get(RoutingKey.of("room.lamp.power")).map(Message::body)).contains("{\"on\":false}");
            try (Jedis other = new Jedis(URI.create(server.url()))) {
                // Another writer after the restart: heard through the re-made subscription, not our own echo.
                other.hset("status/" + LAMP, "level", "7");
                other.publish("status/" + LAMP + "/level", "7");
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> heard.size() == 3);
            assertThat(heard).containsExactly(LAMP + " power=true", LAMP + " power=false", LAMP + " level=7");
            assertThat(health.events).hasSize(3);
            assertThat(resynced).as("once, after the one re-made subscription").hasValue(1);
        } finally {
            server.stop();
        }
    }

    @Test
    void openingARedisThatDoesNotAnswerSaysWhichAndWhere() {
        int port = Tools.freePort();
        assertThatThrownBy(() -> RedisModuleStatusStore.open("redis://127.0.0.1:" + port, EngineHealth.NONE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("redis at 127.0.0.1:" + port + " does not answer: ");
        assertThatThrownBy(() -> RedisStatusStore.open("redis://127.0.0.1:" + port + "/2", EngineHealth.NONE))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("redis at 127.0.0.1:" + port + " does not answer: ");
    }

    @Test
    void aPasswordAndADatabaseInTheUrlAreUsed(@TempDir Path dir) throws Exception {
        RedisTestServer.url();
        try (RedisServer server = RedisServer.start(dir, Tools.freePort(), false)) {
            try (Jedis admin = new Jedis(URI.create(server.url()))) {
                admin.configSet("requirepass", "s3cret");
            }
            String base = server.url().replace("redis://", "redis://:s3cret@");
            try (RedisModuleStatusStore store = RedisModuleStatusStore.open(base + "/3", EngineHealth.NONE)) {
                store.set(LAMP, "power", "true");
            }
            try (Jedis reader = new Jedis(URI.create(base + "/3"))) {
                assertThat(reader.hget("status/" + LAMP, "power")).isEqualTo("true");
                reader.select(0);
                assertThat(reader.exists("status/" + LAMP)).as("database 0 is untouched").isFalse();
            }
            assertThatThrownBy(() -> RedisModuleStatusStore.open(server.url(), EngineHealth.NONE))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("redis at " + server.url().substring("redis://".length()) + " refused the login: ");
            assertThatThrownBy(() -> RedisModuleStatusStore.open(base.replace("s3cret", "wrong"), EngineHealth.NONE))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(" refused the login: ");
        }
    }

    private static Message message(String key, String body) {
        return new Message("id-" + body.hashCode(), 1_700_000_000_000L, "t/" + key.replace('.', '/'), RoutingKey.of(key), "dev",
                Message.STATUS, body);
    }
}
