package io.junction.scaleout.redis;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.status.ModuleStatusStore;
import io.junction.scaleout.EngineHealth;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.Pipeline;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PlaceOS' side of the layout: a reader and a writer that use only a plain Redis client (Jedis' own commands, none of
 * Junction's classes) see Junction's module status where PlaceOS keeps it, and Junction hears what they write.
 */
class PlaceOsReaderTest {

    private static final ModuleId DISPLAY = ModuleId.of("mod-placeos-display");
    private static final SystemId ROOM = SystemId.of("sys-placeos-room");

    private String url;
    private RedisModuleStatusStore store;
    private Jedis redis;
    private final List<Listening> listening = new CopyOnWriteArrayList<>();

    @BeforeEach
    void open() {
        url = RedisTestServer.freshUrl();
        store = RedisModuleStatusStore.open(url, EngineHealth.NONE);
        redis = new Jedis(URI.create(url));
    }

    @AfterEach
    void close() {
        listening.forEach(Listening::close);
        redis.close();
        store.close();
    }

    @Test
    void aReaderFindsTheStatusInItsHashAndHearsEachChangeOnItsChannel() throws Exception {
        // As a PlaceOS binding does: subscribe to the one channel, then read the current value.
        Listening power = subscribe("status/" + DISPLAY + "/power");
        assertThat(redis.hget("status/" + DISPLAY, "power")).isNull();

        store.set(DISPLAY, "power", "true");
        store.set(DISPLAY, "input", "{\"name\":\"hdmi\",\"n\":1}");
        assertThat(power.next()).isEqualTo("status/" + DISPLAY + "/power true");
        assertThat(redis.hget("status/" + DISPLAY, "power")).isEqualTo("true");
        assertThat(redis.hgetAll("status/" + DISPLAY)).containsExactlyInAnyOrderEntriesOf(
                Map.of("power", "true", "input", "{\"name\":\"hdmi\",\"n\":1}"));

        store.set(DISPLAY, "power", "true");
        store.delete(DISPLAY, "power");
        assertThat(power.next()).as("the same value again is not published; a delete publishes null")
                .isEqualTo("status/" + DISPLAY + "/power null");
        assertThat(redis.hexists("status/" + DISPLAY, "power")).isFalse();
    }

    @Test
    void aReaderResolvesASystemHearsItsLookupChangeAndReadsTheInterface() throws Exception {
        Listening lookups = subscribe("lookup-change");
        store.replaceSystem(ROOM, Map.of(new ModuleRef("Display", 1), DISPLAY, new ModuleRef("Display", 2), ModuleId.of("mod-2")));
        assertThat(lookups.next()).isEqualTo("lookup-change " + ROOM);
        assertThat(redis.hgetAll("system/" + ROOM)).containsExactlyInAnyOrderEntriesOf(
                Map.of("Display/1", DISPLAY.value(), "Display/2", "mod-2"));
        assertThat(redis.hget("system/" + ROOM, "Display/1")).isEqualTo(DISPLAY.value());

        store.setInterface(DISPLAY, "{\"functions\":{\"power\":{\"state\":[\"Bool\"]}},\"implements\":[\"Powerable\"]}");
        assertThat(redis.type("interface/" + DISPLAY)).isEqualTo("string");
        assertThat(redis.get("interface/" + DISPLAY)).isEqualTo("{\"functions\":{\"power\":{\"state\":[\"Bool\"]}},\"implements\":[\"Powerable\"]}");
    }

    @Test
    void whatAPlaceOsWriterChangesIsHeardAndRead() {
        List<String> heard = new CopyOnWriteArrayList<>();
        try (ModuleStatusStore.Subscription s = store.listen(new ModuleStatusStore.Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                heard.add(module + " " + name + "=" + json.orElse("(deleted)"));
            }

            @Override
            public void lookupChanged(SystemId system) {
                heard.add("lookup-change " + system);
            }
        })) {
            // A PlaceOS driver's write: HSET and PUBLISH in one pipeline.
            try (Pipeline p = redis.pipelined()) {
                p.hset("status/" + DISPLAY, "volume", "42");
                p.publish("status/" + DISPLAY + "/volume", "42");
                p.sync();
            }
            redis.hset("system/" + ROOM, "Display/1", DISPLAY.value());
            redis.publish("lookup-change", ROOM.value());
            await().atMost(Duration.ofSeconds(10)).until(() -> heard.size() == 2);
            assertThat(heard).containsExactly(DISPLAY + " volume=42", "lookup-change " + ROOM);
        }
        assertThat(store.get(DISPLAY, "volume")).contains("42");
        assertThat(store.lookup(ROOM, new ModuleRef("Display", 1))).contains(DISPLAY);
    }

    @Test
    void malformedChannelsAreSkippedAndCountedAndTheSubscriberGoesOn() {
        List<String> heard = new CopyOnWriteArrayList<>();
        try (ModuleStatusStore.Subscription s = store.listen(new ModuleStatusStore.Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                heard.add(module + " " + name + "=" + json.orElse("(deleted)"));
            }

            @Override
            public void lookupChanged(SystemId system) {
                heard.add("lookup-change " + system);
            }
        }); ModuleStatusStore.Subscription failing = store.listen(new ModuleStatusStore.Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                throw new IllegalStateException("a listener that fails on every change");
            }
        })) {
            redis.publish("status/not a module id!/power", "true");
            redis.publish("status/" + DISPLAY, "true");
            redis.publish("status/" + DISPLAY + "/", "true");
            redis.publish("lookup-change", "not a system id!");
            redis.publish("status/" + DISPLAY + "/power", "false");
            await().atMost(Duration.ofSeconds(10)).until(() -> !heard.isEmpty());
            assertThat(heard).containsExactly(DISPLAY + " power=false");
            assertThat(store.malformedMessages()).isEqualTo(4);
        }
    }

    @Test
    void aListenerThatWritesFromTheSubscriberThreadDoesNotWaitForItself() {
        List<String> heard = new CopyOnWriteArrayList<>();
        try (ModuleStatusStore.Subscription s = store.listen(new ModuleStatusStore.Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                heard.add(name + "=" + json.orElse("(deleted)"));
                if (name.equals("trigger")) {
                    store.set(module, "echo", json.orElse("null"));
                }
            }
        })) {
            store.set(DISPLAY, "trigger", "1");
            await().atMost(Duration.ofSeconds(10)).until(() -> heard.size() == 2);
            assertThat(heard).containsExactly("trigger=1", "echo=1");
            assertThat(store.echoTimeouts()).isZero();
        }
    }

    /** A plain client's subscription to one channel, on its own thread, acknowledged before this returns. */
    private Listening subscribe(String channel) throws InterruptedException {
        Listening l = new Listening();
        CountDownLatch subscribed = new CountDownLatch(1);
        l.pubsub = new JedisPubSub() {
            @Override
            public void onSubscribe(String ch, int count) {
                subscribed.countDown();
            }

            @Override
            public void onMessage(String ch, String message) {
                l.messages.add(ch + " " + message);
            }
        };
        l.connection = new Jedis(URI.create(url));
        Thread.ofVirtual().start(() -> l.connection.subscribe(l.pubsub, channel));
        assertThat(subscribed.await(10, TimeUnit.SECONDS)).as("the plain client's SUBSCRIBE is acknowledged").isTrue();
        listening.add(l);
        return l;
    }

    private static final class Listening {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        JedisPubSub pubsub;
        Jedis connection;

        String next() throws InterruptedException {
            String m = messages.poll(10, TimeUnit.SECONDS);
            assertThat(m).as("a message within 10 s").isNotNull();
            return m;
        }

        void close() {
            pubsub.unsubscribe();
            connection.close();
        }
    }
}
