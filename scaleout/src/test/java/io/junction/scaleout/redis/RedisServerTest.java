package io.junction.scaleout.redis;

import io.junction.core.testing.Tools;
import io.junction.scaleout.engines.RedisServer;
import io.junction.scaleout.engines.RedisTestServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Debian's redis-server as a child process: started on loopback, stopped, restarted, with and without persistence. */
class RedisServerTest {

    @Test
    void aServerAnswersOnLoopbackAndStopsWithItsProcess(@TempDir Path dir) throws Exception {
        RedisTestServer.url();
        int port = Tools.freePort();
        RedisServer server = RedisServer.start(dir, port, false);
        long pid = server.pid();
        try (Jedis c = new Jedis(URI.create(server.url()))) {
            assertThat(server.url()).isEqualTo("redis://127.0.0.1:" + port);
            assertThat(c.ping()).isEqualTo("PONG");
            assertThat(c.configGet("appendonly")).containsEntry("appendonly", "no");
            assertThat(c.configGet("notify-keyspace-events").get("notify-keyspace-events")).contains("E").contains("x");
        }
        assertThat(Files.readString(dir.resolve("redis.log"))).contains("Ready to accept connections");
        server.close();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        server.stop();
        assertThat(Files.list(dir).map(p -> p.getFileName().toString())).containsExactly("redis.log");
    }

    @Test
    void aPersistentServerKeepsWhatItAnsweredAcrossAKill(@TempDir Path dir) throws Exception {
        RedisTestServer.url();
        RedisServer server = RedisServer.start(dir, Tools.freePort(), true);
        try {
            try (Jedis c = new Jedis(URI.create(server.url()))) {
                assertThat(c.configGet("appendfsync")).containsEntry("appendfsync", "everysec");
                c.hset("status/m", "power", "true");
            }
            long before = server.pid();
            server.kill();
            server = server.restart();
            assertThat(server.pid()).isNotEqualTo(before);
            try (Jedis c = new Jedis(URI.create(server.url()))) {
                assertThat(c.hget("status/m", "power")).isEqualTo("true");
            }
        } finally {
            server.stop();
        }
    }
}
