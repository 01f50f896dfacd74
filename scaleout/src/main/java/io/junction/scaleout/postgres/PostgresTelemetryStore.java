package io.junction.scaleout.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

import io.junction.core.RoutingKey;
import io.junction.core.telemetry.Aggregate;
import io.junction.core.telemetry.Checkpoint;
import io.junction.core.telemetry.FieldType;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Fn;
import io.junction.core.telemetry.LateBucket;
import io.junction.core.telemetry.Point;
import io.junction.core.telemetry.Sample;
import io.junction.core.telemetry.Series;
import io.junction.core.telemetry.SeriesFilter;
import io.junction.core.telemetry.SeriesKey;
import io.junction.core.telemetry.Source;
import io.junction.core.telemetry.Tags;
import io.junction.core.telemetry.TelemetryStore;
import io.junction.core.telemetry.TypeRule;
import io.junction.core.telemetry.Watermark;
import io.junction.core.telemetry.WriteResult;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The telemetry port on PostgreSQL: the same behaviour as the embedded store (one contract test), for data that
 * outgrows one machine or is shared by several nodes. Tables are prefixed {@code telemetry_} in the connection's
 * schema. Points are clustered by their primary key {@code (series, ts)}; a batch goes in as one
 * {@code INSERT ... SELECT FROM unnest(arrays)} per 50,000 points, so a write is one round trip, not one per point.
 *
 * <p>Values: floats in {@code f}, integers and booleans (0/1) in {@code i}, strings in {@code s}; aggregates run on
 * {@code coalesce(f, i)} in double precision.
 */
public final class PostgresTelemetryStore implements TelemetryStore {

    private static final Logger log = LoggerFactory.getLogger(PostgresTelemetryStore.class);
    private static final int CHUNK = 50_000;
    private static final String V = "coalesce(f, i::float8)";

    private final HikariDataSource pool;
    private final ConcurrentHashMap<SeriesKey, Series> cache = new ConcurrentHashMap<>();
    private volatile long lateBefore;
    private volatile long lateGranularity;

    private PostgresTelemetryStore(HikariDataSource pool) {
        this.pool = pool;
    }

    /**
     * Connects to {@code url} (a {@code jdbc:postgresql:} URL; {@code ?currentSchema=} picks the schema) and creates
     * the tables that are missing.
     */
    public static PostgresTelemetryStore open(String url, String user, String password, int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(poolSize);
        config.setPoolName("junction-telemetry");
        config.setAutoCommit(false);
        config.setConnectionTimeout(30_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot connect to PostgreSQL at " + url + " as " + user + ": " + rootMessage(e), e);
        }
        PostgresTelemetryStore store = new PostgresTelemetryStore(pool);
        try {
            store.createTables();
        } catch (SQLException | RuntimeException e) {
            pool.close();
            throw new IllegalStateException("cannot create the telemetry tables in PostgreSQL at " + url + ": " + rootMessage(e), e);
        }
        log.info("telemetry store opened postgres={} user={}", url, user);
        return store;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage();
    }

    private void createTables() throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            // Several nodes may start at once: serialise the creation.
            s.execute("SELECT pg_advisory_xact_lock(7164955112)");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_series(id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL,"
                    + " tags TEXT NOT NULL, field TEXT NOT NULL, type SMALLINT NOT NULL, UNIQUE(key, tags, field))");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_points(series BIGINT NOT NULL, ts BIGINT NOT NULL,"
                    + " f DOUBLE PRECISION, i BIGINT, s TEXT, PRIMARY KEY(series, ts))");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_rollups(every BIGINT NOT NULL, series BIGINT NOT NULL,"
                    + " bucket BIGINT NOT NULL, count BIGINT NOT NULL, sum DOUBLE PRECISION, min DOUBLE PRECISION,"
                    + " max DOUBLE PRECISION, first DOUBLE PRECISION, last DOUBLE PRECISION, PRIMARY KEY(every, series, bucket))");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_checkpoints(consumer TEXT PRIMARY KEY, position BIGINT NOT NULL)");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_watermarks(name TEXT PRIMARY KEY, ts BIGINT NOT NULL)");
            s.execute("CREATE TABLE IF NOT EXISTS telemetry_late(series BIGINT NOT NULL, bucket BIGINT NOT NULL,"
                    + " version BIGINT NOT NULL, PRIMARY KEY(series, bucket))");
            s.execute("CREATE SEQUENCE IF NOT EXISTS telemetry_late_version");
            c.commit();
        }
    }

    // ---------------------------------------------------------------- writes

    private record Row(long series, long ts, FieldValue value) {
    }

    private record RowKey(long series, long ts) {
    }

    @Override
    public WriteResult write(List<Point> points, Optional<Checkpoint> checkpoint) {
        SQLException last = null;
        // Two nodes upserting the same rows may deadlock; PostgreSQL then aborts one, which tries again.
        for (int attempt = 0; attempt < 3; attempt++) {
            List<SeriesKey> created = new ArrayList<>();
            try (Connection c = pool.getConnection()) {
                try {
                    WriteResult r = write(c, points, checkpoint, created);
                    c.commit();
                    return r;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    for (SeriesKey k : created) {
                        cache.remove(k);
                    }
                    throw e;
                }
            } catch (SQLException e) {
                last = e;
                if (!"40P01".equals(e.getSQLState()) && !"40001".equals(e.getSQLState())) {
                    break;
                }
            }
        }
        throw new IllegalStateException("telemetry write of " + points.size() + " points failed: " + last.getMessage(), last);
    }

    private WriteResult write(Connection c, List<Point> points, Optional<Checkpoint> checkpoint, List<SeriesKey> created)
            throws SQLException {
        int converted = 0;
        int diverted = 0;
        long before = lateBefore;
        long granularity = lateGranularity;
        Map<RowKey, Row> rows = new LinkedHashMap<>(points.size() * 2);
        Map<RowKey, Boolean> late = new HashMap<>();
        for (Point p : points) {
            Series s = resolve(c, p.series(), p.value().type(), created);
            FieldValue v = p.value();
            if (s.type() != v.type()) {
                Optional<FieldValue> conv = TypeRule.convert(s.type(), v);
                if (conv.isPresent()) {
                    v = conv.get();
                    converted++;
                } else {
                    s = resolve(c, TypeRule.divertedKey(p.series(), v.type()), v.type(), created);
                    Optional<FieldValue> again = TypeRule.convert(s.type(), v);
                    if (again.isEmpty()) {
                        s = resolve(c, TypeRule.divertedKey(s.key(), v.type()), v.type(), created);
                    } else {
                        v = again.get();
                    }
                    diverted++;
                }
            }
            RowKey k = new RowKey(s.id(), p.ts());
            rows.remove(k);
            rows.put(k, new Row(s.id(), p.ts(), v));
            if (granularity > 0 && p.ts() < before && s.type().numeric()) {
                late.put(new RowKey(s.id(), p.ts() - p.ts() % granularity), Boolean.TRUE);
            }
        }
        List<Row> sorted = new ArrayList<>(rows.values());
        // One lock order for every writer: fewer deadlocks between nodes.
        sorted.sort(Comparator.comparingLong(Row::series).thenComparingLong(Row::ts));
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO telemetry_points(series, ts, f, i, s)"
                + " SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::float8[], ?::bigint[], ?::text[])"
                + " ON CONFLICT (series, ts) DO UPDATE SET f = excluded.f, i = excluded.i, s = excluded.s")) {
            for (int from = 0; from < sorted.size(); from += CHUNK) {
                List<Row> chunk = sorted.subList(from, Math.min(sorted.size(), from + CHUNK));
                int n = chunk.size();
                Long[] series = new Long[n];
                Long[] ts = new Long[n];
                Double[] f = new Double[n];
                Long[] i = new Long[n];
                String[] s = new String[n];
                for (int j = 0; j < n; j++) {
                    Row r = chunk.get(j);
                    series[j] = r.series;
                    ts[j] = r.ts;
                    switch (r.value) {
                        case FieldValue.F64 x -> f[j] = x.value();
                        case FieldValue.I64 x -> i[j] = x.value();
                        case FieldValue.Bool x -> i[j] = x.value() ? 1L : 0L;
                        case FieldValue.Text x -> s[j] = x.value();
                    }
                }
                ps.setArray(1, c.createArrayOf("bigint", series));
                ps.setArray(2, c.createArrayOf("bigint", ts));
                ps.setArray(3, c.createArrayOf("float8", f));
                ps.setArray(4, c.createArrayOf("bigint", i));
                ps.setArray(5, c.createArrayOf("text", s));
                ps.executeUpdate();
            }
        }
        if (!late.isEmpty()) {
            List<RowKey> keys = new ArrayList<>(late.keySet());
            keys.sort(Comparator.comparingLong(RowKey::series).thenComparingLong(RowKey::ts));
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO telemetry_late(series, bucket, version)"
                    + " VALUES (?, ?, nextval('telemetry_late_version'))"
                    + " ON CONFLICT (series, bucket) DO UPDATE SET version = excluded.version")) {
                for (RowKey k : keys) {
                    ps.setLong(1, k.series);
                    ps.setLong(2, k.ts);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
        if (checkpoint.isPresent()) {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO telemetry_checkpoints(consumer, position) VALUES (?, ?)"
                    + " ON CONFLICT (consumer) DO UPDATE SET position = excluded.position")) {
                ps.setString(1, checkpoint.get().consumer());
                ps.setLong(2, checkpoint.get().offset());
                ps.executeUpdate();
            }
        }
        return new WriteResult(points.size(), converted, diverted);
    }

    /** The series' id and type: from the cache, or created (another node may have created it first: its type wins). */
    private Series resolve(Connection c, SeriesKey key, FieldType type, List<SeriesKey> created) throws SQLException {
        Series s = cache.get(key);
        if (s != null) {
            return s;
        }
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO telemetry_series(key, tags, field, type)"
                + " VALUES (?, ?, ?, ?) ON CONFLICT (key, tags, field) DO NOTHING RETURNING id, type")) {
            ins.setString(1, key.key().value());
            ins.setString(2, key.tags().canonical());
            ins.setString(3, key.field());
            ins.setShort(4, (short) type.code());
            try (ResultSet rs = ins.executeQuery()) {
                if (rs.next()) {
                    s = new Series(rs.getLong(1), key, FieldType.ofCode(rs.getShort(2)));
                    created.add(key);
                }
            }
        }
        if (s == null) {
            try (PreparedStatement sel = c.prepareStatement("SELECT id, type FROM telemetry_series WHERE key = ? AND tags = ? AND field = ?")) {
                sel.setString(1, key.key().value());
                sel.setString(2, key.tags().canonical());
                sel.setString(3, key.field());
                try (ResultSet rs = sel.executeQuery()) {
                    rs.next();
                    s = new Series(rs.getLong(1), key, FieldType.ofCode(rs.getShort(2)));
                }
            }
        }
        cache.put(key, s);
        return s;
    }

    @Override
    public OptionalLong checkpoint(String consumer) {
        return query(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT position FROM telemetry_checkpoints WHERE consumer = ?")) {
                ps.setString(1, consumer);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
                }
            }
        });
    }

    // ---------------------------------------------------------------- reads

    @Override
    public List<Series> series(SeriesFilter filter) {
        if (filter.key().isLiteral() && !RoutingKey.isValid(filter.key().value())) {
            return List.of();
        }
        // Other nodes may have created series: ask the database, not the cache.
        return query(c -> {
            List<Series> out = new ArrayList<>();
            String sql = "SELECT id, key, tags, field, type FROM telemetry_series"
                    + (filter.key().isLiteral() ? " WHERE key = ?" : "");
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                if (filter.key().isLiteral()) {
                    ps.setString(1, filter.key().value());
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        SeriesKey key = new SeriesKey(RoutingKey.of(rs.getString(2)), Tags.parse(rs.getString(3)), rs.getString(4));
                        if (filter.matches(key)) {
                            out.add(new Series(rs.getLong(1), key, FieldType.ofCode(rs.getShort(5))));
                        }
                    }
                }
            }
            out.sort(Comparator.<Series, String>comparing(s -> s.key().key().value())
                    .thenComparing(s -> s.key().tags().canonical())
                    .thenComparing(s -> s.key().field()));
            return out;
        });
    }

    @Override
    public List<Sample> raw(List<Series> series, long from, long to, int limit) {
        Map<Long, FieldType> types = types(series);
        return query(c -> {
            List<Sample> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT series, ts, f, i, s FROM telemetry_points"
                    + " WHERE series = ANY(?) AND ts >= ? AND ts < ? ORDER BY series, ts LIMIT ?")) {
                ps.setArray(1, ids(c, series));
                ps.setLong(2, from);
                ps.setLong(3, to);
                ps.setInt(4, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        out.add(new Sample(id, rs.getLong(2), value(types.get(id), rs, 3)));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public List<Sample> last(List<Series> series) {
        Map<Long, FieldType> types = types(series);
        return query(c -> {
            List<Sample> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT x.id, p.ts, p.f, p.i, p.s FROM unnest(?::bigint[]) AS x(id)"
                    + " CROSS JOIN LATERAL (SELECT ts, f, i, s FROM telemetry_points WHERE series = x.id ORDER BY ts DESC LIMIT 1) p")) {
                ps.setArray(1, ids(c, series));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        out.add(new Sample(id, rs.getLong(2), value(types.get(id), rs, 3)));
                    }
                }
            }
            return out;
        });
    }

    /** Columns f, i, s from {@code column} on. */
    private static FieldValue value(FieldType type, ResultSet rs, int column) throws SQLException {
        return switch (type) {
            case FLOAT -> FieldValue.of(rs.getDouble(column));
            case INTEGER -> FieldValue.of(rs.getLong(column + 1));
            case BOOLEAN -> FieldValue.of(rs.getLong(column + 1) != 0);
            case STRING -> FieldValue.of(rs.getString(column + 2));
        };
    }

    @Override
    public List<Aggregate> aggregate(Source source, List<Series> series, long from, long to, long every, Fn fn) {
        Map<Long, FieldType> types = types(series);
        boolean raw = source.raw();
        String time = raw ? "ts" : "bucket";
        String table = raw ? "telemetry_points" : "telemetry_rollups";
        String where = " FROM " + table + " WHERE " + (raw ? "" : "every = ? AND ") + "series = ANY(?) AND "
                + time + " >= ? AND " + time + " < ?";
        // The rollups of the interval asked for are the buckets already: no grouping needed.
        String sql = !raw && source.every() == every ? "SELECT series, bucket / ? AS b, " + switch (fn) {
            case MEAN, SUM, COUNT -> "count, sum";
            case MIN -> "count, min";
            case MAX -> "count, max";
            case FIRST -> "bucket, first, NULL::text";
            case LAST -> "bucket, last, NULL::text";
        } + where : switch (fn) {
            case MEAN, SUM, COUNT -> "SELECT series, " + time + " / ? AS b, " + (raw ? "count(*), sum(" + V + ")" : "sum(count), sum(sum)")
                    + where + " GROUP BY 1, 2";
            case MIN -> "SELECT series, " + time + " / ? AS b, " + (raw ? "count(*), min(" + V + ")" : "sum(count), min(min)")
                    + where + " GROUP BY 1, 2";
            case MAX -> "SELECT series, " + time + " / ? AS b, " + (raw ? "count(*), max(" + V + ")" : "sum(count), max(max)")
                    + where + " GROUP BY 1, 2";
            case FIRST, LAST -> "SELECT DISTINCT ON (series, b) series, " + time + " / ? AS b, " + time + ", "
                    + (raw ? V + ", s" : (fn == Fn.FIRST ? "first" : "last") + ", NULL::text")
                    + where + " ORDER BY series, b, " + time + (fn == Fn.FIRST ? " ASC" : " DESC");
        };
        return query(c -> {
            List<Aggregate> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int p = 1;
                ps.setLong(p++, every);
                if (!raw) {
                    ps.setLong(p++, source.every());
                }
                ps.setArray(p++, ids(c, series));
                ps.setLong(p++, from);
                ps.setLong(p, to);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        long bucket = rs.getLong(2) * every;
                        double nan = Double.NaN;
                        out.add(switch (fn) {
                            case MEAN, SUM, COUNT -> new Aggregate(id, bucket, rs.getLong(3), number(rs, 4), nan, nan, bucket, nan, bucket, nan, null, null);
                            case MIN -> new Aggregate(id, bucket, rs.getLong(3), nan, number(rs, 4), nan, bucket, nan, bucket, nan, null, null);
                            case MAX -> new Aggregate(id, bucket, rs.getLong(3), nan, nan, number(rs, 4), bucket, nan, bucket, nan, null, null);
                            case FIRST, LAST -> {
                                long ts = rs.getLong(3);
                                boolean text = types.get(id) == FieldType.STRING;
                                double v = text ? nan : number(rs, 4);
                                String t = text ? rs.getString(5) : null;
                                yield fn == Fn.FIRST
                                        ? new Aggregate(id, bucket, 1, nan, nan, nan, ts, v, ts, nan, t, null)
                                        : new Aggregate(id, bucket, 1, nan, nan, nan, ts, nan, ts, v, null, t);
                            }
                        });
                    }
                }
            }
            return out;
        });
    }

    private static double number(ResultSet rs, int column) throws SQLException {
        double v = rs.getDouble(column);
        return rs.wasNull() ? Double.NaN : v;
    }

    @Override
    public OptionalLong oldest(Source source, List<Series> series) {
        String sql = source.raw()
                ? "SELECT min(p.ts) FROM unnest(?::bigint[]) AS x(id) CROSS JOIN LATERAL"
                  + " (SELECT ts FROM telemetry_points WHERE series = x.id ORDER BY ts LIMIT 1) p"
                : "SELECT min(p.bucket) FROM unnest(?::bigint[]) AS x(id) CROSS JOIN LATERAL"
                  + " (SELECT bucket FROM telemetry_rollups WHERE every = ? AND series = x.id ORDER BY bucket LIMIT 1) p";
        return query(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setArray(1, ids(c, series));
                if (!source.raw()) {
                    ps.setLong(2, source.every());
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long v = rs.getLong(1);
                    return rs.wasNull() ? OptionalLong.empty() : OptionalLong.of(v);
                }
            }
        });
    }

    // ---------------------------------------------------------------- maintenance

    @Override
    public long rollup(long every, Source source, List<Series> series, long from, long to, Optional<Watermark> watermark) {
        String sql = source.raw()
                ? "INSERT INTO telemetry_rollups(every, series, bucket, count, sum, min, max, first, last)"
                  + " SELECT ?, series, b, count(*), sum(v), min(v), max(v), (array_agg(v ORDER BY ts))[1],"
                  + " (array_agg(v ORDER BY ts DESC))[1] FROM (SELECT series, ts, (ts / ?) * ? AS b, " + V + " AS v"
                  + " FROM telemetry_points WHERE series = ANY(?) AND ts >= ? AND ts < ?) x GROUP BY series, b"
                  + " ON CONFLICT (every, series, bucket) DO UPDATE SET count = excluded.count, sum = excluded.sum,"
                  + " min = excluded.min, max = excluded.max, first = excluded.first, last = excluded.last"
                : "INSERT INTO telemetry_rollups(every, series, bucket, count, sum, min, max, first, last)"
                  + " SELECT ?, series, b, sum(count), sum(sum), min(min), max(max), (array_agg(first ORDER BY bucket))[1],"
                  + " (array_agg(last ORDER BY bucket DESC))[1] FROM (SELECT series, bucket, (bucket / ?) * ? AS b, count, sum,"
                  + " min, max, first, last FROM telemetry_rollups WHERE every = ? AND series = ANY(?) AND bucket >= ?"
                  + " AND bucket < ?) x GROUP BY series, b"
                  + " ON CONFLICT (every, series, bucket) DO UPDATE SET count = excluded.count, sum = excluded.sum,"
                  + " min = excluded.min, max = excluded.max, first = excluded.first, last = excluded.last";
        return update(c -> {
            long rows;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int p = 1;
                ps.setLong(p++, every);
                ps.setLong(p++, every);
                ps.setLong(p++, every);
                if (!source.raw()) {
                    ps.setLong(p++, source.every());
                }
                ps.setArray(p++, ids(c, series));
                ps.setLong(p++, from);
                ps.setLong(p, to);
                rows = ps.executeUpdate();
            }
            if (watermark.isPresent()) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO telemetry_watermarks(name, ts) VALUES (?, ?)"
                        + " ON CONFLICT (name) DO UPDATE SET ts = excluded.ts")) {
                    ps.setString(1, watermark.get().name());
                    ps.setLong(2, watermark.get().ts());
                    ps.executeUpdate();
                }
            }
            return rows;
        });
    }

    @Override
    public Map<String, Long> watermarks() {
        return query(c -> {
            Map<String, Long> out = new HashMap<>();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT name, ts FROM telemetry_watermarks")) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getLong(2));
                }
            }
            return out;
        });
    }

    @Override
    public long delete(Source source, List<Series> series, long before) {
        String sql = source.raw()
                ? "DELETE FROM telemetry_points WHERE series = ANY(?) AND ts < ?"
                : "DELETE FROM telemetry_rollups WHERE every = ? AND series = ANY(?) AND bucket < ?";
        return update(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int p = 1;
                if (!source.raw()) {
                    ps.setLong(p++, source.every());
                }
                ps.setArray(p++, ids(c, series));
                ps.setLong(p, before);
                return (long) ps.executeUpdate();
            }
        });
    }

    @Override
    public void trackLate(long before, long granularity) {
        if (granularity <= 0) {
            throw new IllegalArgumentException("the late granularity must be positive");
        }
        lateGranularity = granularity;
        lateBefore = before;
    }

    @Override
    public List<LateBucket> late(int max) {
        return query(c -> {
            List<LateBucket> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT series, bucket, version FROM telemetry_late LIMIT ?")) {
                ps.setInt(1, max);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new LateBucket(rs.getLong(1), rs.getLong(2), rs.getLong(3)));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public void forgetLate(List<LateBucket> done) {
        update(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM telemetry_late WHERE series = ? AND bucket = ? AND version = ?")) {
                for (LateBucket b : done) {
                    ps.setLong(1, b.seriesId());
                    ps.setLong(2, b.bucket());
                    ps.setLong(3, b.version());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return 0L;
        });
    }

    @Override
    public long sizeBytes() {
        return query(c -> {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE c.relkind = 'r' AND c.relname LIKE 'telemetry\\_%' AND n.nspname = current_schema()")) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    @Override
    public void close() {
        pool.close();
        log.info("telemetry store closed (postgres)");
    }

    // ---------------------------------------------------------------- helpers

    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private <T> T query(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            try {
                return work.run(c);
            } finally {
                c.rollback();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("telemetry query failed: " + e.getMessage(), e);
        }
    }

    private <T> T update(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("telemetry update failed: " + e.getMessage(), e);
        }
    }

    private static Array ids(Connection c, List<Series> series) throws SQLException {
        Long[] ids = new Long[series.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = series.get(i).id();
        }
        return c.createArrayOf("bigint", ids);
    }

    private static Map<Long, FieldType> types(List<Series> series) {
        Map<Long, FieldType> types = new HashMap<>();
        for (Series s : series) {
            types.put(s.id(), s.type());
        }
        return types;
    }
}
