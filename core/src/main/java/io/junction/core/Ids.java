package io.junction.core;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Message ids: version-7 UUIDs (48 bits of milliseconds, then random bits), so ids sort by time and are made
 * without the lock and system calls of {@link UUID#randomUUID()} on the per-message path.
 */
public final class Ids {

    private Ids() {
    }

    public static String next(long epochMillis) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long msb = (epochMillis << 16) | 0x7000L | (r.nextLong() & 0x0FFFL);
        long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(msb, lsb).toString();
    }
}
