package io.junction.core.auth;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * Hashes and checks passwords (of devices and people) with PBKDF2-HMAC-SHA256 from the JDK, in the text form
 * {@code pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>} that config files and the database store.
 */
public final class PasswordHash {

    /** The prefix every stored hash starts with. */
    public static final String PREFIX = "pbkdf2-sha256$";
    /** Iterations used by {@link #hash(char[])}; a stored hash keeps its own count, so raising this is safe. */
    public static final int DEFAULT_ITERATIONS = 100_000;

    private static final String FORMAT =
            "expected pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>, e.g. as produced by PasswordHash.hash";
    private static final String ALGORITHM = "PBKDF2WithHmacSHA256";
    private static final int MAX_ITERATIONS = 10_000_000;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final int MIN_SALT_BYTES = 8;
    private static final int MIN_HASH_BYTES = 16;
    private static final int MAX_BYTES = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private PasswordHash() {
    }

    /** Hashes a password with a fresh random salt and {@link #DEFAULT_ITERATIONS}. */
    public static String hash(char[] password) {
        return hash(password, DEFAULT_ITERATIONS);
    }

    /** Hashes a password with a fresh random salt and the given number of iterations (1 to 10,000,000). */
    public static String hash(char[] password, int iterations) {
        requirePassword(password);
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new IllegalArgumentException("iterations must be between 1 and " + MAX_ITERATIONS + ", was " + iterations);
        }
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] derived = derive(password, salt, iterations, HASH_BYTES);
        Base64.Encoder b64 = Base64.getEncoder();
        return PREFIX + iterations + '$' + b64.encodeToString(salt) + '$' + b64.encodeToString(derived);
    }

    /**
     * Whether {@code password} is the one {@code stored} was made from. The comparison takes the same time
     * wherever the first differing byte is.
     *
     * @throws IllegalArgumentException if {@code stored} is not in the expected format
     */
    public static boolean verify(char[] password, String stored) {
        requirePassword(password);
        Parsed parsed = parse(stored);
        byte[] derived = derive(password, parsed.salt, parsed.iterations, parsed.hash.length);
        return MessageDigest.isEqual(derived, parsed.hash);
    }

    /** Whether {@code value} is a well-formed stored hash (as opposed to, say, a plain-text password). */
    public static boolean looksHashed(String value) {
        if (value == null || !value.startsWith(PREFIX)) {
            return false;
        }
        try {
            parse(value);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Decodes UTF-8 password bytes (as MQTT carries them) to the chars {@link #verify} takes. */
    public static char[] utf8Chars(byte[] password) {
        CharBuffer chars = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(password));
        char[] result = new char[chars.remaining()];
        chars.get(result);
        if (chars.hasArray()) {
            Arrays.fill(chars.array(), '\0');
        }
        return result;
    }

    private record Parsed(int iterations, byte[] salt, byte[] hash) {
    }

    private static Parsed parse(String stored) {
        if (stored == null) {
            throw new IllegalArgumentException("stored password hash is missing; " + FORMAT);
        }
        if (!stored.startsWith(PREFIX)) {
            throw new IllegalArgumentException("stored password hash does not start with '" + PREFIX + "'; " + FORMAT);
        }
        String[] parts = stored.substring(PREFIX.length()).split("\\$", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("stored password hash has " + (parts.length + 1)
                    + " '$'-separated parts instead of 4; " + FORMAT);
        }
        int iterations;
        try {
            iterations = Integer.parseInt(parts[0]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("stored password hash has a non-numeric iteration count; " + FORMAT, e);
        }
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new IllegalArgumentException("stored password hash has iteration count " + iterations
                    + " outside 1.." + MAX_ITERATIONS + "; " + FORMAT);
        }
        byte[] salt = decode(parts[1], "salt", MIN_SALT_BYTES);
        byte[] hash = decode(parts[2], "hash", MIN_HASH_BYTES);
        return new Parsed(iterations, salt, hash);
    }

    private static byte[] decode(String base64, String what, int minBytes) {
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("stored password hash has a " + what + " that is not base64; " + FORMAT, e);
        }
        if (bytes.length < minBytes || bytes.length > MAX_BYTES) {
            throw new IllegalArgumentException("stored password hash has a " + what + " of " + bytes.length
                    + " bytes, at least " + minBytes + " expected; " + FORMAT);
        }
        return bytes;
    }

    private static byte[] derive(char[] password, byte[] salt, int iterations, int bytes) {
        PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, bytes * 8);
        try {
            return SecretKeyFactory.getInstance(ALGORITHM).generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(ALGORITHM + " is not available in this JDK", e);
        } finally {
            spec.clearPassword();
        }
    }

    private static void requirePassword(char[] password) {
        if (password == null) {
            throw new IllegalArgumentException("password is missing");
        }
    }
}
