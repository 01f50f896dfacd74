package io.junction.mqtt.broker;

import io.junction.core.auth.PasswordHash;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * How the embedded MQTT broker listens, who may connect and how much it holds. Build with {@link #builder()};
 * every value is checked when built, with a message that says what is expected.
 *
 * @param host the address to listen on ({@code 0.0.0.0} for all IPv4 interfaces)
 * @param port the plain MQTT port; 0 picks a free one (see {@link MqttBroker#port()})
 * @param tls the TLS listener, if any
 * @param anonymous whether clients without a user name may connect; they may then use every topic
 * @param users user name to user; the device uid of a user whose {@code deviceUid} is empty is its user name
 * @param maxPayloadBytes the largest PUBLISH payload accepted; a larger one closes the connection
 * @param receiveMaximum how many publishes per connection may wait for the {@link PublishHandler} before the
 *     broker stops reading that connection; also the MQTT 5 receive maximum announced to clients and the number
 *     of unacknowledged QoS 1/2 messages sent to a client at once
 * @param maxQueuedPerSession QoS 1/2 messages kept per session while its client is offline or slow; when full,
 *     the oldest is dropped and counted
 * @param maxConnections connections accepted at once, if limited
 * @param maxSessions sessions (connected or kept for offline clients) held at once, if limited
 * @param maxSessionExpiry how long the session of an offline client is kept at most (MQTT 3.1.1 persistent
 *     sessions get exactly this; MQTT 5 clients ask for less or get this)
 * @param connectTimeout how long a new connection may take to send CONNECT
 * @param ioThreads network threads; 0 means one per available processor
 */
public record BrokerSettings(
        String host,
        int port,
        Optional<Tls> tls,
        boolean anonymous,
        Map<String, BrokerUser> users,
        int maxPayloadBytes,
        int receiveMaximum,
        int maxQueuedPerSession,
        OptionalInt maxConnections,
        OptionalInt maxSessions,
        Duration maxSessionExpiry,
        Duration connectTimeout,
        int ioThreads) {

    /** Default {@link #maxPayloadBytes()}: 256 KiB. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
    /** Bytes allowed in a packet beyond the payload (topic, properties). */
    static final int HEADER_ROOM = 8 * 1024;
    private static final long MAX_EXPIRY_SECONDS = 0xFFFF_FFFFL;

    /**
     * A TLS listener.
     *
     * @param port its port; 0 picks a free one (see {@link MqttBroker#tlsPort()})
     * @param certificateChain PEM file with the server certificate first, then any intermediates
     * @param privateKey PEM file with its PKCS#8 private key
     * @param keyPassword the private key's password, if it is encrypted
     */
    public record Tls(int port, Path certificateChain, Path privateKey, Optional<String> keyPassword) {
        public Tls {
            checkPort(port, "tls port");
            Objects.requireNonNull(certificateChain, "tls certificateChain");
            Objects.requireNonNull(privateKey, "tls privateKey");
            Objects.requireNonNull(keyPassword, "tls keyPassword");
        }
    }

    public BrokerSettings {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("mqtt host must be an address such as 0.0.0.0 or 127.0.0.1");
        }
        checkPort(port, "mqtt port");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(maxConnections, "maxConnections");
        Objects.requireNonNull(maxSessions, "maxSessions");
        if (maxPayloadBytes < 1 || maxPayloadBytes > 256 * 1024 * 1024 - HEADER_ROOM) {
            throw new IllegalArgumentException("maxPayloadBytes must be between 1 and about 256 MiB, was " + maxPayloadBytes);
        }
        if (receiveMaximum < 1 || receiveMaximum > 65_535) {
            throw new IllegalArgumentException("receiveMaximum must be between 1 and 65535, was " + receiveMaximum);
        }
        if (maxQueuedPerSession < 1) {
            throw new IllegalArgumentException("maxQueuedPerSession must be at least 1, was " + maxQueuedPerSession);
        }
        if (maxConnections.isPresent() && maxConnections.getAsInt() < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, was " + maxConnections.getAsInt());
        }
        if (maxSessions.isPresent() && maxSessions.getAsInt() < 1) {
            throw new IllegalArgumentException("maxSessions must be at least 1, was " + maxSessions.getAsInt());
        }
        if (maxSessionExpiry == null || maxSessionExpiry.isNegative() || maxSessionExpiry.toSeconds() > MAX_EXPIRY_SECONDS) {
            throw new IllegalArgumentException("maxSessionExpiry must be between 0 and 4294967295 seconds, was " + maxSessionExpiry);
        }
        if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout must be positive, was " + connectTimeout);
        }
        if (ioThreads < 0) {
            throw new IllegalArgumentException("ioThreads must be 0 (one per processor) or more, was " + ioThreads);
        }
        users = normalizeUsers(users);
    }

    /** Settings with every default: 0.0.0.0, ephemeral port, no TLS, no anonymous access, no users. */
    public static Builder builder() {
        return new Builder();
    }

    /** The largest packet accepted: the payload limit plus room for topic and properties. */
    int maxPacketBytes() {
        return maxPayloadBytes + HEADER_ROOM;
    }

    private static void checkPort(int port, String what) {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException(what + " must be between 0 (any free port) and 65535, was " + port);
        }
    }

    private static Map<String, BrokerUser> normalizeUsers(Map<String, BrokerUser> users) {
        if (users == null) {
            throw new IllegalArgumentException("users must not be null (use Map.of())");
        }
        Map<String, BrokerUser> result = new LinkedHashMap<>();
        for (Map.Entry<String, BrokerUser> e : users.entrySet()) {
            String name = e.getKey();
            BrokerUser user = e.getValue();
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("mqtt user names must not be empty");
            }
            if (user == null) {
                throw new IllegalArgumentException("mqtt user '" + name + "' has no settings");
            }
            if (!PasswordHash.looksHashed(user.passwordHash())) {
                throw new IllegalArgumentException("mqtt user '" + name + "': password must be stored hashed, as "
                        + "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash> (see PasswordHash.hash), not in plain text");
            }
            String uid = user.deviceUid().isEmpty() ? name : user.deviceUid();
            if (uid.indexOf('+') >= 0 || uid.indexOf('#') >= 0 || uid.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("mqtt user '" + name + "': device uid '" + uid
                        + "' must not contain '+', '#' or NUL, because it names the topic tree <uid>/#");
            }
            for (String filter : user.publishFilters()) {
                checkFilter(name, "publish", filter);
            }
            for (String filter : user.subscribeFilters()) {
                checkFilter(name, "subscribe", filter);
            }
            result.put(name, new BrokerUser(user.passwordHash(), uid, user.publishFilters(), user.subscribeFilters()));
        }
        return Map.copyOf(result);
    }

    private static void checkFilter(String user, String kind, String filter) {
        if (filter == null || !Topics.isValidFilter(filter)) {
            throw new IllegalArgumentException("mqtt user '" + user + "': " + kind + " filter '" + filter
                    + "' is not a valid MQTT topic filter ('+' and '#' must fill a whole level, '#' only last)");
        }
    }

    /** Builds {@link BrokerSettings}; every setter is optional. */
    public static final class Builder {
        private String host = "0.0.0.0";
        private int port = 0;
        private Optional<Tls> tls = Optional.empty();
        private boolean anonymous = false;
        private final Map<String, BrokerUser> users = new LinkedHashMap<>();
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private int receiveMaximum = 256;
        private int maxQueuedPerSession = 1_000;
        private OptionalInt maxConnections = OptionalInt.empty();
        private OptionalInt maxSessions = OptionalInt.empty();
        private Duration maxSessionExpiry = Duration.ofDays(1);
        private Duration connectTimeout = Duration.ofSeconds(10);
        private int ioThreads = 0;

        private Builder() {
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder tls(Tls tls) {
            this.tls = Optional.of(tls);
            return this;
        }

        public Builder anonymous(boolean anonymous) {
            this.anonymous = anonymous;
            return this;
        }

        public Builder user(String username, BrokerUser user) {
            this.users.put(username, user);
            return this;
        }

        public Builder users(Map<String, BrokerUser> users) {
            this.users.clear();
            this.users.putAll(users);
            return this;
        }

        public Builder maxPayloadBytes(int maxPayloadBytes) {
            this.maxPayloadBytes = maxPayloadBytes;
            return this;
        }

        public Builder receiveMaximum(int receiveMaximum) {
            this.receiveMaximum = receiveMaximum;
            return this;
        }

        public Builder maxQueuedPerSession(int maxQueuedPerSession) {
            this.maxQueuedPerSession = maxQueuedPerSession;
            return this;
        }

        public Builder maxConnections(int maxConnections) {
            this.maxConnections = OptionalInt.of(maxConnections);
            return this;
        }

        public Builder maxSessions(int maxSessions) {
            this.maxSessions = OptionalInt.of(maxSessions);
            return this;
        }

        public Builder maxSessionExpiry(Duration maxSessionExpiry) {
            this.maxSessionExpiry = maxSessionExpiry;
            return this;
        }

        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        public BrokerSettings build() {
            return new BrokerSettings(host, port, tls, anonymous, users, maxPayloadBytes, receiveMaximum,
                    maxQueuedPerSession, maxConnections, maxSessions, maxSessionExpiry, connectTimeout, ioThreads);
        }
    }
}
