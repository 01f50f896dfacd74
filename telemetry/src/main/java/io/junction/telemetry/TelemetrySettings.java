package io.junction.telemetry;

import io.junction.core.RoutingPattern;
import io.junction.core.config.Section;
import io.junction.core.telemetry.Retention;
import io.junction.core.telemetry.RetentionRule;
import io.junction.core.telemetry.TelemetryReader;
import io.junction.core.telemetry.TimeSpans;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The telemetry writer, store, retention and query limits ({@code [telemetry]}, {@code [[telemetry.retention]]},
 * {@code [telemetry.postgres]}).
 *
 * @param enabled             false: no writer, no routes, no store
 * @param store               where the series live
 * @param stream              which stream the writer consumes
 * @param keys                routing-key patterns whose messages the writer stores
 * @param kinds               message kinds the writer stores
 * @param deviceTelemetry     store {@code <uid>/tel/p} (JSON or CBOR) whatever {@code keys} and {@code kinds} say
 * @param strings             what a string value in a message body becomes
 * @param tags                flattened field names whose string values become tags, whatever {@code strings} says
 * @param batch               the most messages in one write batch
 * @param queue               messages waiting for the writer before it falls back to reading the stream
 * @param maxFields           the most fields taken from one message (the rest are dropped and counted)
 * @param maintenanceInterval how often downsampling and retention run, in nanoseconds
 * @param retention           the retention rules ({@link Retention#DEFAULT} when the file has none)
 * @param limits              what one query may ask for
 */
public record TelemetrySettings(boolean enabled, StoreKind store, StreamName stream, List<RoutingPattern> keys,
                                List<String> kinds, boolean deviceTelemetry, Strings strings, Set<String> tags,
                                int batch, int queue, int maxFields, long maintenanceInterval, Retention retention,
                                TelemetryReader.Limits limits, Postgres postgres) {

    public TelemetrySettings {
        keys = List.copyOf(keys);
        kinds = List.copyOf(kinds);
        tags = Set.copyOf(tags);
    }

    /** The embedded store in the data directory, or PostgreSQL. */
    public enum StoreKind { EMBEDDED, POSTGRES }

    public enum StreamName { RAW, PROCESSED }

    /** A string value becomes a string field, a tag, or is dropped. */
    public enum Strings { FIELD, TAG, DROP }

    /**
     * The PostgreSQL adapter's connection ({@code store = "postgres"}).
     *
     * @param password    from the file (better: {@code passwordEnv})
     * @param passwordEnv the name of an environment variable holding the password, read at start-up
     * @param pool        connections in the pool
     */
    public record Postgres(String url, String user, Optional<String> password, Optional<String> passwordEnv, int pool) {
        public static Postgres defaults() {
            return new Postgres("jdbc:postgresql://127.0.0.1:5432/junction", "junction", Optional.empty(),
                    Optional.empty(), 4);
        }
    }

    public static TelemetrySettings defaults() {
        return new TelemetrySettings(true, StoreKind.EMBEDDED, StreamName.RAW, List.of(RoutingPattern.ALL),
                List.of("status"), true, Strings.FIELD, Set.of(), 10_000, 10_000, 256, 60 * TimeSpans.NS_PER_S,
                Retention.DEFAULT, TelemetryReader.Limits.DEFAULT, Postgres.defaults());
    }

    /** Reads {@code [telemetry]} from the root table; an absent section means the defaults. */
    public static TelemetrySettings read(Section root) {
        Section s = root.table("telemetry");
        TelemetrySettings d = defaults();
        boolean enabled = s.bool("enabled", d.enabled());
        StoreKind store = s.choice("store", d.store(), StoreKind.class);
        StreamName stream = s.choice("stream", d.stream(), StreamName.class);
        List<RoutingPattern> keys = new ArrayList<>();
        for (String p : s.stringList("keys", List.of("#"))) {
            try {
                keys.add(RoutingPattern.of(p));
            } catch (IllegalArgumentException e) {
                throw s.error("keys", e.getMessage());
            }
        }
        List<String> kinds = s.stringList("kinds", d.kinds());
        for (String k : kinds) {
            if (!io.junction.core.Message.isValidKind(k)) {
                throw s.error("kinds", "\"" + k + "\" is not a message kind: use lower-case letters, digits, '_' and '-', such as \"status\"");
            }
        }
        boolean deviceTelemetry = s.bool("device_telemetry", d.deviceTelemetry());
        Strings strings = s.choice("strings", d.strings(), Strings.class);
        Set<String> tags = Set.copyOf(s.stringList("tags", List.of()));
        int batch = (int) s.integer("batch", d.batch(), 1, 1_000_000);
        int queue = (int) s.integer("queue", d.queue(), 1, 10_000_000);
        int maxFields = (int) s.integer("max_fields", d.maxFields(), 1, 100_000);
        long interval = span(s, "maintenance_interval", d.maintenanceInterval());
        if (interval < TimeSpans.NS_PER_S) {
            throw s.error("maintenance_interval", "expected at least 1s, got " + TimeSpans.format(interval));
        }
        TelemetryReader.Limits dl = d.limits();
        TelemetryReader.Limits limits = new TelemetryReader.Limits(
                (int) s.integer("max_series", dl.maxSeries(), 1, 10_000_000),
                s.integer("max_buckets", dl.maxBuckets(), 1, 1_000_000_000),
                (int) s.integer("max_points", dl.maxPoints(), 1, 100_000_000));

        List<Section> ruleSections = s.tableList("retention");
        Retention retention = d.retention();
        if (!ruleSections.isEmpty()) {
            List<RetentionRule> rules = new ArrayList<>();
            for (Section r : ruleSections) {
                rules.add(rule(r));
            }
            retention = new Retention(rules);
        }

        Section pg = s.table("postgres");
        Postgres pd = Postgres.defaults();
        Postgres postgres = new Postgres(pg.string("url", pd.url()), pg.string("user", pd.user()),
                pg.optionalString("password"), pg.optionalString("password_env"),
                (int) pg.integer("pool", pd.pool(), 1, 1_000));
        if (!postgres.url().startsWith("jdbc:postgresql:")) {
            throw pg.error("url", "expected a JDBC URL such as \"jdbc:postgresql://host:5432/database\", got \"" + postgres.url() + "\"");
        }
        pg.finish();
        s.finish();
        return new TelemetrySettings(enabled, store, stream, keys, kinds, deviceTelemetry, strings, tags, batch, queue,
                maxFields, interval, retention, limits, postgres);
    }

    private static RetentionRule rule(Section r) {
        String pattern = r.string("keys", "#");
        RoutingPattern keys;
        try {
            keys = RoutingPattern.of(pattern);
        } catch (IllegalArgumentException e) {
            throw r.error("keys", e.getMessage());
        }
        long raw = keep(r, "raw", 7 * 86_400 * TimeSpans.NS_PER_S);
        List<RetentionRule.Rollup> levels = new ArrayList<>();
        for (Section l : r.tableList("rollups")) {
            long every = span(l, "every", 0);
            if (every == 0) {
                throw l.error("every", "is required: the rollup interval, such as \"1m\"");
            }
            if (every % TimeSpans.NS_PER_S != 0) {
                throw l.error("every", "expected a whole number of seconds, such as \"1m\", got " + TimeSpans.format(every));
            }
            levels.add(new RetentionRule.Rollup(every, keep(l, "keep", RetentionRule.FOREVER)));
            l.finish();
        }
        String problem = RetentionRule.problem(raw, levels);
        if (problem != null) {
            throw r.error("rollups", problem);
        }
        r.finish();
        return new RetentionRule(keys, raw, levels);
    }

    /** A length of time, or "forever". */
    private static long keep(Section s, String key, long fallback) {
        String v = s.string(key, null);
        if (v == null) {
            return fallback;
        }
        if (v.equals("forever")) {
            return RetentionRule.FOREVER;
        }
        long ns = parse(s, key, v);
        if (ns <= 0) {
            throw s.error(key, "expected a positive length of time or \"forever\", got \"" + v + "\"");
        }
        return ns;
    }

    private static long span(Section s, String key, long fallback) {
        String v = s.string(key, null);
        return v == null ? fallback : parse(s, key, v);
    }

    private static long parse(Section s, String key, String v) {
        try {
            return TimeSpans.parse(v);
        } catch (IllegalArgumentException e) {
            throw s.error(key, e.getMessage());
        }
    }
}
