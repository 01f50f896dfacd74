package io.junction.core.config;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The whole configuration, as read from {@code junction.toml} and validated by {@link ConfigLoader}: the spine's
 * settings (MQTT, HTTP, data, mapping, live paths) and, by feature name, the settings record each feature's
 * {@link io.junction.core.feature.Feature#check check} returned. Every section is optional in the file.
 *
 * @param features each feature's checked settings by its name, in the order of the feature list
 * @param env      the environment the file was read in (a variable's name to its value, or null), injected by the
 *                 composition root: where every secret named by an {@code ..._env} key is looked up, at load and at
 *                 start
 */
public record JunctionConfig(String source, Mqtt mqtt, Http http, Data data, Mapping mapping, Live live,
                             Map<String, Object> features, Function<String, String> env) {

    public JunctionConfig {
        features = Collections.unmodifiableMap(new LinkedHashMap<>(features));
    }

    /**
     * The spine's defaults, without features and in an empty environment: what an empty file gives a loader that
     * knows no features.
     */
    public static JunctionConfig defaults() {
        return new JunctionConfig("(defaults)", Mqtt.defaults(), new Http("0.0.0.0", 8080),
                Data.defaults(), Mapping.defaults(), new Live(1024), Map.of(), name -> null);
    }

    /**
     * The checked settings of the feature whose settings record is {@code type}, for the few places that read
     * another feature's settings (the devices' plugins folder defaults to the engine's).
     *
     * @throws IllegalArgumentException when the config was read without that feature
     */
    public <S> S settings(Class<S> type) {
        for (Object s : features.values()) {
            if (type.isInstance(s)) {
                return type.cast(s);
            }
        }
        throw new IllegalArgumentException(source + " was read without the feature whose settings are " + type.getSimpleName()
                + ": read it with the loader of the node's features");
    }

    /** The MQTT endpoint. */
    public record Mqtt(String host, int port, boolean anonymous, int maxPayloadBytes, int receiveMaximum,
                       int sessionQueue, Optional<Tls> tls, Map<String, User> users) {
        public static Mqtt defaults() {
            return new Mqtt("0.0.0.0", 1883, false, 256 * 1024, 256, 1000, Optional.empty(), Map.of());
        }
    }

    /** A TLS listener; the key password comes from the config or an environment variable. */
    public record Tls(int port, Path cert, Path key, Optional<String> keyPassword) {

        /** Reads a {@code [... .tls]} table; absent means no TLS listener. */
        public static Optional<Tls> read(Section t, int defaultPort) {
            if (!t.present()) {
                return Optional.empty();
            }
            int port = t.port("port", defaultPort);
            String cert = t.string("cert", null);
            String key = t.string("key", null);
            if (cert == null || key == null) {
                throw t.error(cert == null ? "cert" : "key",
                        "is required: give the path of a PEM file (certificate chain in 'cert', private key in 'key')");
            }
            Optional<String> password = t.secret("key_password");
            t.finish();
            return Optional.of(new Tls(port, Path.of(cert), Path.of(key), password));
        }
    }

    /**
     * A device or tool allowed to connect with a password. {@code passwordHash} is a {@code pbkdf2-sha256$...}
     * string. Without explicit filters a device may publish and subscribe only under {@code <device>/#}.
     */
    public record User(String username, String passwordHash, String device, List<String> publish, List<String> subscribe) {
    }

    public record Http(String host, int port) {
    }

    /** The data directory and how durable an acknowledged message is. */
    public record Data(Path dir, Fsync fsync, int fsyncIntervalMillis, long segmentBytes) {
        public static Data defaults() {
            return new Data(Path.of("data"), Fsync.ALWAYS, 20, 64L * 1024 * 1024);
        }
    }

    /**
     * When appended messages reach the disk. {@code ALWAYS}: before any of them is acknowledged (nothing acknowledged
     * is lost on a power cut). {@code INTERVAL}: at most every interval; a crash of the process loses nothing, a power
     * cut may lose the last interval. {@code NEVER}: left to the operating system.
     */
    public enum Fsync { ALWAYS, INTERVAL, NEVER }

    /**
     * Topic ⇄ routing-key rules. {@code devices}: physical device id (a topic prefix) → logical name;
     * {@code subtopics}: topic level → word; {@code input}/{@code output}: the last topic level that marks a message
     * from the device (its kind is the input word) and to the device.
     */
    public record Mapping(Map<String, String> devices, Map<String, String> subtopics, String input, String output) {
        public static Mapping defaults() {
            return new Mapping(Map.of(), Map.of(), "status", "command");
        }
    }

    /** Live paths: how many messages wait for one WebSocket client before the oldest are dropped. */
    public record Live(int queue) {
    }
}
