package io.junction.engine;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * Ids of the messages a script gives: shaped like version-7 UUIDs (the source's time in milliseconds first, so they
 * sort by time like every other id) whose other 74 bits are a hash of (scope, source offset, output index). The same
 * output of the same source message always gets the same id: that is how a restart recognises outputs that were
 * appended before a crash but not yet committed, and why a repeated replay is byte-identical. A scope is a script's
 * live processing or its replays, so the two never share ids.
 */
final class OutputIds {

    private final long seedA;
    private final long seedB;

    OutputIds(String scope) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(scope.getBytes(StandardCharsets.UTF_8));
            long a = 0;
            long b = 0;
            for (int i = 0; i < 8; i++) {
                a = (a << 8) | (d[i] & 0xFF);
                b = (b << 8) | (d[8 + i] & 0xFF);
            }
            seedA = a;
            seedB = b;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    String id(long epochMillis, long sourceOffset, int index) {
        long h1 = mix(seedA ^ mix(sourceOffset * 0x9E3779B97F4A7C15L + index));
        long h2 = mix(seedB + mix(sourceOffset ^ ((long) index << 32) ^ 0xC2B2AE3D27D4EB4FL));
        long msb = (epochMillis << 16) | 0x7000L | (h1 & 0x0FFFL);
        long lsb = (h2 & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(msb, lsb).toString();
    }

    /** The finaliser of SplitMix64: every input bit reaches every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
