package io.junction.server.devices;

import io.junction.server.Clients;
import io.junction.server.Junction;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPubSub;

import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a PlaceOS tool that reads Redis sees of a Junction node whose status is on Redis: only a plain Redis client here,
 * no Junction code. A device publishes over MQTT; the module's generic driver turns it into a status variable; the
 * reader finds it in hash {@code status/<module_id>} and hears it on channel {@code status/<module_id>/<name>}, and
 * finds the room in {@code system/<system_id>} and the driver's metadata in {@code interface/<module_id>}.
 */
class PlaceOsRedisReaderTest {

    @TempDir
    Path dir;

    @Test
    void aDeviceChangingAModulesStatusIsReadAndHeardThroughRedisInPlaceOsLayout() throws Exception {
        String url = RedisTestServer.freshUrl();
        try (Junction node = Junction.start(DevicesClients.config(dir, """
                [status]
                engine = "redis"
                [redis]
                url = "%s"
                """.formatted(url)));
             Jedis reader = new Jedis(URI.create(url));
             Jedis subscriber = new Jedis(URI.create(url))) {
            String admin = DevicesClients.login(node.httpPort(), "admin", DevicesClients.ADMIN_PASSWORD);
            var module = call(node.httpPort(), "POST", "/api/modules",
                    "{\"id\": \"hall-light\", \"driver\": \"light\", \"name\": \"Light\", \"settings\": {\"room\": \"bedroom\"}}", admin);
            assertThat(module.status()).as(module.text()).isEqualTo(201);
            var system = call(node.httpPort(), "POST", "/api/systems",
                    "{\"id\": \"hall\", \"name\": \"Hall\", \"modules\": [\"hall-light\"]}", admin);
            assertThat(system.status()).as(system.text()).isEqualTo(201);

            BlockingQueue<String> heard = new LinkedBlockingQueue<>();
            CountDownLatch subscribed = new CountDownLatch(1);
            JedisPubSub listener = new JedisPubSub() {
                @Override
                public void onSubscribe(String channel, int count) {
                    subscribed.countDown();
                }

                @Override
                public void onMessage(String channel, String message) {
                    heard.add(channel + " " + message);
                }
            };
            Thread thread = Thread.ofVirtual().start(() -> subscriber.subscribe(listener, "status/hall-light/power"));
            assertThat(subscribed.await(10, TimeUnit.SECONDS)).isTrue();

            var pub = Clients.mosquittoPub(node.mqttPort(), "-q", "1", "-t", "mesh/b5ea3f/42/power/status", "-m", "true");
            assertThat(pub.exit()).as(pub.output()).isZero();
            assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo("status/hall-light/power true");
            assertThat(reader.hget("status/hall-light", "power")).isEqualTo("true");

            var off = Clients.mosquittoPub(node.mqttPort(), "-q", "1", "-t", "mesh/b5ea3f/42/power/status", "-m", "false");
            assertThat(off.exit()).as(off.output()).isZero();
            assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo("status/hall-light/power false");
            assertThat(reader.hget("status/hall-light", "power")).isEqualTo("false");

            assertThat(reader.hget("system/hall", "Light/1")).isEqualTo("hall-light");
            assertThat(reader.get("interface/hall-light")).contains("\"power\"");

            listener.unsubscribe();
            thread.join(5_000);
        }
    }
}
