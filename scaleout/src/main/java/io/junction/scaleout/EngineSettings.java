package io.junction.scaleout;

import io.junction.core.config.Section;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Which engine holds each port, and how to reach it: {@code [streams] engine}, {@code [status] engine},
 * {@code [state] engine}, each {@code "embedded"} (the default: the data directory, nothing to install) or the
 * scale-out engine ({@code "kafka"}, {@code "redis"}, {@code "postgres"}), chosen independently; and the connection
 * sections {@code [kafka]}, {@code [redis]}, {@code [postgres]}, read (and checked) whether or not an engine uses them.
 * Secrets come from the environment ({@code password_env}, {@code [kafka.properties_env]}).
 */
public record EngineSettings(StreamsEngine streams, StatusEngine status, StateEngine state, Kafka kafka, Redis redis,
                             Postgres postgres) {

    public enum StreamsEngine { EMBEDDED, KAFKA }

    public enum StatusEngine { EMBEDDED, REDIS }

    public enum StateEngine { EMBEDDED, POSTGRES }

    /**
     * Kafka for the streams.
     *
     * @param bootstrap      {@code host:port[,host:port...]} of the brokers
     * @param rawTopic       the topic of the raw stream
     * @param processedTopic the topic of the processed stream
     * @param replication    the replication factor of topics Junction creates
     * @param maxPending     appends that may wait for Kafka's acknowledgement before new ones are refused (push-back)
     * @param properties     extra client properties (security, timeouts), with those from the environment resolved
     */
    public record Kafka(String bootstrap, String rawTopic, String processedTopic, short replication, int maxPending,
                        Map<String, String> properties) {
        public Kafka {
            properties = Map.copyOf(properties);
        }

        public static Kafka defaults() {
            return new Kafka("127.0.0.1:9092", "junction.raw", "junction.processed", (short) 1, 10_000, Map.of());
        }

        /** The topic of stream {@code raw} or {@code processed}. */
        public String topic(String stream) {
            return "raw".equals(stream) ? rawTopic : processedTopic;
        }
    }

    /** Redis for the status ports: {@code redis://[user:password@]host:port[/db]}, the password resolved. */
    public record Redis(String url) {
        public static Redis defaults() {
            return new Redis("redis://127.0.0.1:6379");
        }

        /** {@code host:port}, for messages (never the password). */
        public String where() {
            URI uri = URI.create(url);
            return uri.getHost() + ":" + (uri.getPort() < 0 ? 6379 : uri.getPort());
        }

        @Override
        public String toString() {
            return "Redis[" + where() + "]";
        }
    }

    /** PostgreSQL for the state port. */
    public record Postgres(String url, String user, String password, int pool) {
        public static Postgres defaults() {
            return new Postgres("jdbc:postgresql://127.0.0.1:5432/junction", "junction", "", 8);
        }

        /** {@code host:port/db}, for messages. */
        public String where() {
            return url.replaceFirst("^jdbc:postgresql://", "").replaceFirst("\\?.*$", "");
        }

        @Override
        public String toString() {
            return "Postgres[url=" + url + ", user=" + user + ", pool=" + pool + "]";
        }
    }

    public static EngineSettings defaults() {
        return new EngineSettings(StreamsEngine.EMBEDDED, StatusEngine.EMBEDDED, StateEngine.EMBEDDED,
                Kafka.defaults(), Redis.defaults(), Postgres.defaults());
    }

    /** Whether any port is on a scale-out engine. */
    public boolean anyScaleOut() {
        return streams != StreamsEngine.EMBEDDED || status != StatusEngine.EMBEDDED || state != StateEngine.EMBEDDED;
    }

    /** Reads the six sections from the root table; absent ones mean the defaults (everything embedded). */
    public static EngineSettings read(Section root) {
        EngineSettings d = defaults();
        StreamsEngine streams = engine(root.table("streams"), d.streams(), StreamsEngine.class);
        StatusEngine status = engine(root.table("status"), d.status(), StatusEngine.class);
        StateEngine state = engine(root.table("state"), d.state(), StateEngine.class);
        return new EngineSettings(streams, status, state, kafka(root.table("kafka")), redis(root.table("redis")),
                postgres(root.table("postgres")));
    }

    private static <E extends Enum<E>> E engine(Section s, E fallback, Class<E> type) {
        E engine = s.choice("engine", fallback, type);
        s.finish();
        return engine;
    }

    private static Kafka kafka(Section s) {
        Kafka d = Kafka.defaults();
        String bootstrap = s.string("bootstrap", d.bootstrap());
        for (String server : bootstrap.split(",")) {
            if (!server.trim().matches("[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}")) {
                throw s.error("bootstrap", "expected host:port[,host:port...] of the Kafka brokers, such as"
                        + " \"127.0.0.1:9092\", got \"" + bootstrap + "\"");
            }
        }
        String raw = topic(s, "raw_topic", d.rawTopic());
        String processed = topic(s, "processed_topic", d.processedTopic());
        if (raw.equals(processed)) {
            throw s.error("processed_topic", "must differ from raw_topic (\"" + raw + "\"): the two streams are separate");
        }
        short replication = (short) s.integer("replication", d.replication(), 1, Short.MAX_VALUE);
        int maxPending = (int) s.integer("max_pending", d.maxPending(), 1, 10_000_000);
        Map<String, String> properties = new LinkedHashMap<>(s.stringMap("properties"));
        Section fromEnv = s.table("properties_env");
        for (String key : fromEnv.keys()) {
            String variable = fromEnv.string(key, null);
            Optional<String> value = fromEnv.env(variable);
            if (value.isEmpty()) {
                throw fromEnv.error(key, "the environment variable " + variable + " is not set");
            }
            properties.put(key, value.get());
        }
        fromEnv.finish();
        for (String reserved : new String[]{"bootstrap.servers", "key.serializer", "value.serializer",
                "key.deserializer", "value.deserializer", "enable.idempotence", "acks"}) {
            if (properties.containsKey(reserved)) {
                throw s.error("properties", "\"" + reserved + "\" is set by Junction (it keeps the acknowledgement"
                        + " promise); use bootstrap for the brokers and leave the others out");
            }
        }
        s.finish();
        return new Kafka(bootstrap, raw, processed, replication, maxPending, properties);
    }

    private static String topic(Section s, String key, String fallback) {
        String topic = s.string(key, fallback);
        if (!topic.matches("[A-Za-z0-9._-]{1,249}") || topic.equals(".") || topic.equals("..")) {
            throw s.error(key, "expected a Kafka topic name (letters, digits, '.', '_', '-'; at most 249), got \"" + topic + "\"");
        }
        return topic;
    }

    private static Redis redis(Section s) {
        String url = s.string("url", Redis.defaults().url());
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw s.error("url", "expected redis://host:port[/db], got \"" + url + "\"");
        }
        if (!("redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme())) || uri.getHost() == null) {
            throw s.error("url", "expected redis://host:port[/db] (or rediss:// for TLS), got \"" + url + "\"");
        }
        if (uri.getUserInfo() != null && uri.getUserInfo().contains(":")) {
            throw s.error("url", "has a password in it; give it in password_env (or password) instead");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        if (!path.isEmpty() && !path.equals("/") && !path.matches("/\\d{1,5}")) {
            throw s.error("url", "the path must be a database number such as /0, got \"" + path + "\"");
        }
        Optional<String> password = s.secret("password");
        s.finish();
        if (password.isEmpty()) {
            return new Redis(url);
        }
        String user = uri.getUserInfo() == null ? "default" : uri.getUserInfo();
        String auth = java.net.URLEncoder.encode(user, java.nio.charset.StandardCharsets.UTF_8) + ":"
                + java.net.URLEncoder.encode(password.get(), java.nio.charset.StandardCharsets.UTF_8);
        String rest = url.substring(url.indexOf("://") + 3);
        if (rest.contains("@")) {
            rest = rest.substring(rest.indexOf('@') + 1);
        }
        return new Redis(uri.getScheme() + "://" + auth + "@" + rest);
    }

    private static Postgres postgres(Section s) {
        Postgres d = Postgres.defaults();
        String url = s.string("url", d.url());
        if (!url.startsWith("jdbc:postgresql://")) {
            throw s.error("url", "expected a JDBC URL such as \"jdbc:postgresql://host:5432/database\", got \"" + url + "\"");
        }
        String user = s.string("user", d.user());
        String password = s.secret("password").orElse("");
        int pool = (int) s.integer("pool", d.pool(), 1, 1_000);
        s.finish();
        return new Postgres(url, user, password, pool);
    }
}
