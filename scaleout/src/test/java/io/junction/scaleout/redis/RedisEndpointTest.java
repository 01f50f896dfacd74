package io.junction.scaleout.redis;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reading {@code redis://[user:password@]host[:port][/db]}, and saying what is wrong with a bad one. */
class RedisEndpointTest {

    @Test
    void aUrlGivesHostPortLoginAndDatabase() {
        assertThat(RedisEndpoint.parse("redis://127.0.0.1:6380"))
                .isEqualTo(new RedisEndpoint("127.0.0.1", 6380, Optional.empty(), Optional.empty(), 0));
        assertThat(RedisEndpoint.parse("redis://redis.local"))
                .isEqualTo(new RedisEndpoint("redis.local", 6379, Optional.empty(), Optional.empty(), 0));
        assertThat(RedisEndpoint.parse("redis://:p%40ss@10.0.0.5:7000/12"))
                .isEqualTo(new RedisEndpoint("10.0.0.5", 7000, Optional.empty(), Optional.of("p@ss"), 12));
        assertThat(RedisEndpoint.parse("redis://junction:secret@h:1/"))
                .isEqualTo(new RedisEndpoint("h", 1, Optional.of("junction"), Optional.of("secret"), 0));
        assertThat(RedisEndpoint.parse("redis://secret@h:1/3").password()).contains("secret");
    }

    @Test
    void thePasswordNeverShows() {
        RedisEndpoint e = RedisEndpoint.parse("redis://junction:secret@h:1/3");
        assertThat(e.address()).isEqualTo("h:1");
        assertThat(e.toString()).isEqualTo("redis://h:1/3").doesNotContain("secret");
    }

    @Test
    void aBadUrlSaysWhatIsExpected() {
        assertThatThrownBy(() -> RedisEndpoint.parse("")).hasMessageStartingWith("the redis url is empty; expected redis://");
        assertThatThrownBy(() -> RedisEndpoint.parse("127.0.0.1:6379")).hasMessageContaining("must start with redis://");
        assertThatThrownBy(() -> RedisEndpoint.parse("rediss://h:1")).hasMessageContaining("TLS is not supported");
        assertThatThrownBy(() -> RedisEndpoint.parse("redis://h:1/zero")).hasMessageContaining("database 'zero' must be a number");
        assertThatThrownBy(() -> RedisEndpoint.parse("redis://h:1/0?timeout=5")).hasMessageContaining("no '?' parameters");
        assertThatThrownBy(() -> RedisEndpoint.parse("redis:///0")).hasMessageContaining("names no host");
        assertThatThrownBy(() -> RedisEndpoint.parse("redis://h h")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a URL");
    }
}
