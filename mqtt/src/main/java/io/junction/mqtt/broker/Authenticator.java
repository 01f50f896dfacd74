package io.junction.mqtt.broker;

import io.junction.core.auth.PasswordHash;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Checks CONNECT credentials against the configured users. PBKDF2 is slow on purpose, so it runs on one
 * dedicated thread with a bounded queue (a connect storm gets "server busy", the network threads never wait);
 * a password once verified is remembered as a salted SHA-256 so a reconnecting device does not pay again.
 */
final class Authenticator implements AutoCloseable {

    /** The outcome of one CONNECT's credentials. */
    sealed interface Result permits Accepted, Refused {
    }

    /** Credentials are good (or anonymous access is on). */
    record Accepted(Optional<String> username, String deviceUid, AccessRules rules) implements Result {
    }

    /** Credentials are refused. */
    record Refused(Reason reason) implements Result {
    }

    enum Reason {
        /** Unknown user or wrong password (MQTT 3.1.1 0x04, MQTT 5 0x86). */
        BAD_CREDENTIALS,
        /** No user name and anonymous access is off (MQTT 3.1.1 0x05, MQTT 5 0x87). */
        NOT_AUTHORIZED,
        /** Too many checks waiting (MQTT 3.1.1 0x03, MQTT 5 0x89). */
        BUSY
    }

    private record User(String passwordHash, Accepted accepted) {
    }

    /** Made on first use: a hash to check unknown users against, so they take as long as known ones. */
    private static final class Dummy {
        static final String HASH = PasswordHash.hash("not a password".toCharArray());
    }

    private final boolean anonymous;
    private final Map<String, User> users;
    private final Map<String, byte[]> verified = new ConcurrentHashMap<>();
    private final byte[] pepper = new byte[32];
    private final ThreadPoolExecutor executor;

    Authenticator(BrokerSettings settings) {
        this.anonymous = settings.anonymous();
        Map<String, User> byName = new HashMap<>();
        settings.users().forEach((name, user) -> byName.put(name, new User(user.passwordHash(),
                new Accepted(Optional.of(name), user.deviceUid(), AccessRules.forUser(user)))));
        this.users = Map.copyOf(byName);
        new SecureRandom().nextBytes(pepper);
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(256), r -> {
            Thread t = new Thread(r, "junction-mqtt-auth");
            t.setDaemon(true);
            return t;
        });
    }

    /** Checks one CONNECT; {@code username} and {@code password} are null when the client sent none. */
    CompletableFuture<Result> authenticate(String username, byte[] password, String clientId) {
        if (username == null) {
            return CompletableFuture.completedFuture(anonymous
                    ? new Accepted(Optional.empty(), clientId, AccessRules.ALLOW_ALL)
                    : new Refused(Reason.NOT_AUTHORIZED));
        }
        User user = users.get(username);
        byte[] pw = password == null ? new byte[0] : password;
        byte[] digest = user == null ? null : digest(username, pw);
        if (user != null && password != null) {
            byte[] known = verified.get(username);
            if (known != null && MessageDigest.isEqual(known, digest)) {
                return CompletableFuture.completedFuture(user.accepted());
            }
        }
        CompletableFuture<Result> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                char[] chars = PasswordHash.utf8Chars(pw);
                try {
                    // Unknown users and missing passwords cost the same time as a wrong password.
                    boolean ok = PasswordHash.verify(chars, user == null ? Dummy.HASH : user.passwordHash())
                            && user != null && password != null;
                    if (ok) {
                        verified.put(username, digest);
                        result.complete(user.accepted());
                    } else {
                        result.complete(new Refused(Reason.BAD_CREDENTIALS));
                    }
                } catch (RuntimeException e) {
                    result.completeExceptionally(e);
                } finally {
                    Arrays.fill(chars, '\0');
                }
            });
        } catch (RejectedExecutionException e) {
            result.complete(new Refused(Reason.BUSY));
        }
        return result;
    }

    private byte[] digest(String username, byte[] password) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(pepper);
            sha.update(username.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(password);
            return sha.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available in this JDK", e);
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
