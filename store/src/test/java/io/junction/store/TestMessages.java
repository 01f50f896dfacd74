package io.junction.store;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.config.JunctionConfig;

import java.nio.file.Path;

/** Messages and settings the store tests share. */
public final class TestMessages {

    public static final long T0 = 1_700_000_000_000L;

    private TestMessages() {
    }

    /** A message whose every field says which one it is: {@code n} in the id, the body, and (mod 10) the key. */
    public static Message message(long n) {
        return message(n, T0 + n);
    }

    public static Message message(long n, long ts) {
        return new Message("id-" + n, ts, "mesh/b5ea3f/" + (n % 10) + "/M/status", RoutingKey.of("room.device" + (n % 10) + ".level"),
                "dev-" + (n % 10), Message.STATUS, "{\"n\":" + n + ",\"text\":\"bedroom light \\u00e9\"}");
    }

    public static JunctionConfig.Data settings(Path dir, JunctionConfig.Fsync fsync, long segmentBytes) {
        return new JunctionConfig.Data(dir, fsync, 5, segmentBytes);
    }

    public static JunctionConfig.Data settings(Path dir) {
        return settings(dir, JunctionConfig.Fsync.ALWAYS, 64L * 1024 * 1024);
    }
}
