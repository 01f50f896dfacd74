package io.junction.scaleout.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.state.VersionConflictException;
import io.junction.scaleout.EngineHealth;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The state port on PostgreSQL, for nodes that share their state: the same behaviour as the embedded SQLite adapter
 * (one contract test). Records live in one table, {@code junction_state}, in the connection's schema, keyed by
 * collection and the SHA-256 of the key (a 1024-character key can be larger than a btree entry may be).
 *
 * <ul>
 * <li>Documents are kept in a {@code text} column, byte for byte as written: {@code jsonb} would reorder keys, drop
 * whitespace and duplicate keys, and {@code json} would refuse text that the embedded adapter accepts. Keys use the
 * {@code "C"} collation, so {@link #list} orders them by code point, as SQLite does, whatever the database's locale.</li>
 * <li>Versions as in the embedded adapter: a first write gives 1, each write adds one, a delete removes the row (the
 * next write gives 1 again). Compare-and-set is one statement whose row count decides: {@code INSERT ... ON CONFLICT
 * DO NOTHING} for "absent", {@code UPDATE ... WHERE version = ?} for a version, an upsert that adds one for "any".
 * Under READ COMMITTED a concurrent writer of the same row waits and then re-checks the version, so exactly one of
 * several writers expecting the same version wins.</li>
 * <li>A batch is one transaction. A write returns after PostgreSQL committed it (durable as the server's
 * {@code synchronous_commit} makes it).</li>
 * <li>Watches: this node's listeners are called after the commit on the writer's thread. Every write also sends
 * {@code pg_notify} in its transaction (delivered only if it commits), and once something watches, one connection
 * {@code LISTEN}s, so changes by other nodes reach this node's listeners too, once, on that connection's thread. Each
 * batch takes a stamp from a sequence that follows commit order per record, and a listener never gets a change older
 * than one it already got for that record: when writers race on one record, a listener may skip a version that was
 * superseded before it was heard, but it always ends on the newest. A document too large for a notification (8000
 * bytes) is read back. While PostgreSQL is away, changes made by other nodes are not heard.</li>
 * <li>When PostgreSQL does not answer, an operation fails within about 5 s with an {@link IllegalStateException}
 * naming it (a write that failed in its commit may or may not have been applied: read it again), and the pool
 * reconnects by itself once it is back. The {@link EngineHealth} goes down on such a failure and up on the next
 * success; a light probe every {@value #PROBE_SECONDS} s notices both without traffic.</li>
 * </ul>
 */
public final class PostgresStateStore implements StateStore {

    private static final Logger log = LoggerFactory.getLogger(PostgresStateStore.class);
    private static final long PROBE_SECONDS = 3;
    /** PostgreSQL refuses notification payloads of 8000 bytes or more. */
    private static final int NOTIFY_LIMIT = 7_900;
    private static final int CONFLICT_RETRIES = 5;
    private static final int DEADLOCK_RETRIES = 3;
    private static final int DELIVERED_KEPT = 10_000;

    private static final String SELECT = "SELECT version, json, updated_at FROM junction_state WHERE collection = ? AND key_hash = ?";
    private static final String SELECT_ALL = "SELECT key, version, json, updated_at FROM junction_state WHERE collection = ? ORDER BY key";
    private static final String VERSION = "SELECT version FROM junction_state WHERE collection = ? AND key_hash = ?";
    private static final String UPSERT = "INSERT INTO junction_state AS s (collection, key_hash, key, version, json, updated_at)"
            + " VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (collection, key_hash)"
            + " DO UPDATE SET version = s.version + 1, json = excluded.json, updated_at = excluded.updated_at RETURNING version";
    private static final String INSERT = "INSERT INTO junction_state (collection, key_hash, key, version, json, updated_at)"
            + " VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (collection, key_hash) DO NOTHING RETURNING version";
    private static final String UPDATE = "UPDATE junction_state SET version = version + 1, json = ?, updated_at = ?"
            + " WHERE collection = ? AND key_hash = ? AND version = ? RETURNING version";
    private static final String DELETE = "DELETE FROM junction_state WHERE collection = ? AND key_hash = ? RETURNING version";
    private static final String DELETE_AT = "DELETE FROM junction_state WHERE collection = ? AND key_hash = ? AND version = ?"
            + " RETURNING version";

    private final HikariDataSource pool;
    private final String url;
    private final Properties listenProps;
    private final String where;
    private final Clock clock;
    private final EngineHealth health;
    private final String channel;
    /** Marks this store's notifications, so its listen connection skips what its listeners already heard. */
    private final String origin = UUID.randomUUID().toString();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    /** Serialises calls to listeners, so each record's changes reach them in commit order. */
    private final ReentrantLock delivery = new ReentrantLock();
    /**
     * The stamp of the last change delivered per record, for the records changed lately: a late, older change is
     * dropped. Bounded: a change is late by one notification round trip at most, far less than this many records.
     */
    private final LinkedHashMap<RecordKey, Stamp> delivered = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<RecordKey, Stamp> eldest) {
            return size() > DELIVERED_KEPT;
        }
    };
    private final AtomicBoolean answering = new AtomicBoolean(true);
    private final ReentrantLock lifecycle = new ReentrantLock();
    private final ScheduledExecutorService probe;
    private Thread listenThread;
    private volatile boolean closed;

    private record Listener(String collection, Consumer<StateChange> consumer) {
    }

    /**
     * What a batch did: the records written (deletes give none), the changes to announce, and the batch's stamp
     * (0 when nothing changed).
     */
    private record Applied(List<StateRecord> written, List<StateChange> changes, long stamp) {
    }

    /** Where a change stands in commit order: its batch's stamp, then its place in the batch. */
    private record Stamp(long stamp, int index) implements Comparable<Stamp> {
        @Override
        public int compareTo(Stamp o) {
            int c = Long.compare(stamp, o.stamp);
            return c != 0 ? c : Integer.compare(index, o.index);
        }
    }

    private record RecordKey(String collection, String key) {
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private PostgresStateStore(HikariDataSource pool, String url, Properties listenProps, String where, Clock clock,
                               EngineHealth health, String channel) {
        this.pool = pool;
        this.url = url;
        this.listenProps = listenProps;
        this.where = where;
        this.clock = clock;
        this.health = health;
        this.channel = channel;
        if (health == EngineHealth.NONE) {
            this.probe = null;
        } else {
            this.probe = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("postgres-state-probe").factory());
            probe.scheduleWithFixedDelay(this::probe, PROBE_SECONDS, PROBE_SECONDS, TimeUnit.SECONDS);
        }
    }

    /**
     * Connects to {@code url} (a {@code jdbc:postgresql:} URL; {@code ?currentSchema=} picks the schema) with a pool
     * of {@code poolSize} connections and creates the table if it is missing. Throws {@link IllegalStateException}
     * when PostgreSQL does not answer or refuses the connection.
     */
    public static PostgresStateStore open(String url, String user, String password, int poolSize, Clock clock) {
        return open(url, user, password, poolSize, clock, EngineHealth.NONE);
    }

    /** As {@link #open(String, String, String, int, Clock)}, reporting to {@code health} whether PostgreSQL answers. */
    public static PostgresStateStore open(String url, String user, String password, int poolSize, Clock clock,
                                          EngineHealth health) {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(health, "health");
        if (poolSize < 1) {
            throw new IllegalArgumentException("the postgres state pool needs at least 1 connection, got " + poolSize);
        }
        String where = where(url);
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password == null ? "" : password);
        // Settings in the URL win over these (pgjdbc reads the URL last).
        props.setProperty("connectTimeout", "5");
        props.setProperty("loginTimeout", "5");
        props.setProperty("socketTimeout", "30");
        props.setProperty("tcpKeepAlive", "true");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password == null ? "" : password);
        props.stringPropertyNames().stream().filter(k -> !k.equals("user") && !k.equals("password"))
                .forEach(k -> config.addDataSourceProperty(k, props.getProperty(k)));
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(Math.min(poolSize, 2));
        config.setPoolName("junction-state");
        config.setAutoCommit(false);
        // A caller waits at most this long for a connection while PostgreSQL is away, not Hikari's default 30 s.
        config.setConnectionTimeout(5_000);
        config.setValidationTimeout(2_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            health.down("postgres at " + where + ": " + rootMessage(e));
            throw refused(where, user, e);
        }
        String channel;
        try {
            channel = createTable(pool);
        } catch (SQLException | RuntimeException e) {
            pool.close();
            if (isConnectionFailure(e)) {
                health.down("postgres at " + where + ": " + rootMessage(e));
                throw new IllegalStateException("postgres at " + where + " does not answer: " + rootMessage(e), e);
            }
            throw new IllegalStateException("cannot create the table junction_state in postgres at " + where + ": "
                    + rootMessage(e), e);
        }
        PostgresStateStore store = new PostgresStateStore(pool, url, props, where, clock, health, channel);
        health.up();
        log.info("state opened postgres={} user={} pool={}", where, user, poolSize);
        return store;
    }

    /** Creates the table when missing; returns the notification channel of this table. */
    private static String createTable(HikariDataSource pool) throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            // Several nodes may start at once: serialise the creation.
            s.execute("SELECT pg_advisory_xact_lock(7164955113)");
            s.execute("CREATE TABLE IF NOT EXISTS junction_state (collection text NOT NULL, key_hash bytea NOT NULL,"
                    + " key text COLLATE \"C\" NOT NULL, version bigint NOT NULL, json text NOT NULL,"
                    + " updated_at bigint NOT NULL, PRIMARY KEY (collection, key_hash))");
            s.execute("COMMENT ON COLUMN junction_state.key_hash IS 'SHA-256 of the key in UTF-8: a key may be longer than an index entry'");
            s.execute("CREATE SEQUENCE IF NOT EXISTS junction_state_stamp");
            s.execute("COMMENT ON COLUMN junction_state.updated_at IS 'milliseconds since 1970 of the last write (the writer''s clock)'");
            String channel;
            // Notifications are per database, tables per schema: the schema keeps them apart. A channel name has at
            // most 63 bytes, so a long schema name goes in as a hash.
            try (ResultSet rs = s.executeQuery("SELECT current_schema()")) {
                rs.next();
                String schema = rs.getString(1);
                channel = "junction_state:" + schema;
                if (channel.getBytes(StandardCharsets.UTF_8).length > 63) {
                    channel = "junction_state:" + HexFormat.of().formatHex(hash(schema), 0, 16);
                }
            }
            c.commit();
            return channel;
        }
    }

    // ---------------------------------------------------------------- reads

    @Override
    public Optional<StateRecord> get(String collection, String key) {
        StateStore.check(collection, key);
        checkText(collection, key, "");
        return run("read " + collection + "/" + key, c -> read(c, collection, key));
    }

    @Override
    public List<StateRecord> list(String collection) {
        StateStore.check(collection, "*");
        return run("list " + collection, c -> {
            List<StateRecord> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(SELECT_ALL)) {
                ps.setString(1, collection);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new StateRecord(collection, rs.getString(1), rs.getLong(2), rs.getString(3), rs.getLong(4)));
                    }
                }
            }
            return out;
        });
    }

    // ---------------------------------------------------------------- writes

    @Override
    public StateRecord put(String collection, String key, String json, long expectedVersion) {
        return write(List.of(new StateWrite.Put(collection, key, json, expectedVersion))).getFirst();
    }

    @Override
    public boolean delete(String collection, String key, long expectedVersion) {
        return !apply(List.of(new StateWrite.Delete(collection, key, expectedVersion))).changes().isEmpty();
    }

    @Override
    public List<StateRecord> write(List<StateWrite> writes) {
        return apply(writes).written();
    }

    private Applied apply(List<StateWrite> writes) {
        for (StateWrite w : writes) {
            StateStore.check(w.collection(), w.key());
            if (w instanceof StateWrite.Put p) {
                Objects.requireNonNull(p.json(), "json");
                checkText(p.collection(), p.key(), p.json());
            } else {
                checkText(w.collection(), w.key(), "");
            }
        }
        if (writes.isEmpty()) {
            return new Applied(List.of(), List.of(), 0);
        }
        Applied applied = run("write " + writes.size() + " record(s)", c -> apply(c, writes));
        for (int i = 0; i < applied.changes().size(); i++) {
            offer(applied.changes().get(i), new Stamp(applied.stamp(), i));
        }
        return applied;
    }

    private Applied apply(Connection c, List<StateWrite> writes) throws SQLException {
        long now = clock.millis();
        List<StateRecord> written = new ArrayList<>();
        List<StateChange> changes = new ArrayList<>();
        List<String> payloads = new ArrayList<>();
        for (StateWrite w : writes) {
            for (int attempt = 1; ; attempt++) {
                Outcome r = switch (w) {
                    case StateWrite.Put p -> put(c, p, now);
                    case StateWrite.Delete d -> delete(c, d);
                };
                if (r.done) {
                    switch (w) {
                        case StateWrite.Put p -> {
                            StateRecord rec = new StateRecord(p.collection(), p.key(), r.version, p.json(), now);
                            written.add(rec);
                            changes.add(new StateChange(p.collection(), p.key(), Optional.of(rec)));
                        }
                        case StateWrite.Delete d -> {
                            if (r.version != 0) {
                                changes.add(new StateChange(d.collection(), d.key(), Optional.empty()));
                            }
                        }
                    }
                    break;
                }
                long actual = currentVersion(c, w.collection(), w.key());
                // The record changed again between the write and this read, back to what was expected: try again.
                if (actual != w.expectedVersion() || attempt >= CONFLICT_RETRIES) {
                    throw new VersionConflictException(w.collection(), w.key(), w.expectedVersion(), actual);
                }
            }
        }
        if (changes.isEmpty()) {
            return new Applied(written, changes, 0);
        }
        for (int i = 0; i < changes.size(); i++) {
            payloads.add(payload(i, changes.get(i)));
        }
        // The stamp is taken after every row of the batch is written and locked until the commit: a batch that
        // writes one of those rows later waits for this commit, so it takes a larger stamp. Per record, stamps follow
        // commit order, and pg_notify delivers only if the batch commits.
        try (PreparedStatement ps = c.prepareStatement("WITH s AS (SELECT nextval('junction_state_stamp') AS v)"
                + " SELECT s.v, pg_notify(?, s.v || '|' || p) FROM s, unnest(?::text[]) AS p")) {
            ps.setString(1, channel);
            ps.setArray(2, c.createArrayOf("text", payloads.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new Applied(written, changes, rs.getLong(1));
            }
        }
    }

    /** Whether a statement applied, and the version it gave (a put) or removed (a delete; 0 for none). */
    private record Outcome(boolean done, long version) {
        static final Outcome CONFLICT = new Outcome(false, 0);
    }

    private Outcome put(Connection c, StateWrite.Put p, long now) throws SQLException {
        long expected = p.expectedVersion();
        if (expected == ANY || expected == ABSENT) {
            try (PreparedStatement ps = c.prepareStatement(expected == ANY ? UPSERT : INSERT)) {
                ps.setString(1, p.collection());
                ps.setBytes(2, hash(p.key()));
                ps.setString(3, p.key());
                ps.setString(4, p.json());
                ps.setLong(5, now);
                return returned(ps);
            }
        }
        try (PreparedStatement ps = c.prepareStatement(UPDATE)) {
            ps.setString(1, p.json());
            ps.setLong(2, now);
            ps.setString(3, p.collection());
            ps.setBytes(4, hash(p.key()));
            ps.setLong(5, expected);
            return returned(ps);
        }
    }

    private Outcome delete(Connection c, StateWrite.Delete d) throws SQLException {
        long expected = d.expectedVersion();
        if (expected == ABSENT) {
            // Nothing to delete, and something there is a conflict.
            long actual = currentVersion(c, d.collection(), d.key());
            return actual == 0 ? new Outcome(true, 0) : Outcome.CONFLICT;
        }
        try (PreparedStatement ps = c.prepareStatement(expected == ANY ? DELETE : DELETE_AT)) {
            ps.setString(1, d.collection());
            ps.setBytes(2, hash(d.key()));
            if (expected != ANY) {
                ps.setLong(3, expected);
            }
            Outcome r = returned(ps);
            return expected == ANY && !r.done ? new Outcome(true, 0) : r;
        }
    }

    private static Outcome returned(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? new Outcome(true, rs.getLong(1)) : Outcome.CONFLICT;
        }
    }

    private static long currentVersion(Connection c, String collection, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(VERSION)) {
            ps.setString(1, collection);
            ps.setBytes(2, hash(key));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private static Optional<StateRecord> read(Connection c, String collection, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(SELECT)) {
            ps.setString(1, collection);
            ps.setBytes(2, hash(key));
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new StateRecord(collection, key, rs.getLong(1), rs.getString(2), rs.getLong(3)));
            }
        }
    }

    /**
     * The key's place in the primary key. A key may have 1024 characters of up to 4 bytes in UTF-8, more than a btree
     * entry may hold (2704 bytes), so the index holds its SHA-256 instead; the key itself is kept beside it.
     */
    private static byte[] hash(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** PostgreSQL text cannot hold U+0000; say so rather than fail with an encoding error. */
    private static void checkText(String collection, String key, String json) {
        if (key.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("state key in " + collection
                    + " contains a NUL character (U+0000), which PostgreSQL cannot store");
        }
        if (json.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("state document " + collection + "/" + key
                    + " contains a raw NUL character (U+0000), which PostgreSQL cannot store: escape it as \\u0000");
        }
    }

    // ---------------------------------------------------------------- running statements

    /** Runs {@code work} in a transaction, again after a deadlock, and maps failures to exceptions a caller can act on. */
    private <T> T run(String what, Work<T> work) {
        ensureOpen();
        SQLException last = null;
        for (int attempt = 0; attempt < DEADLOCK_RETRIES; attempt++) {
            try (Connection c = pool.getConnection()) {
                try {
                    T result = work.run(c);
                    c.commit();
                    answered();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    rollback(c);
                    throw e;
                }
            } catch (VersionConflictException e) {
                answered();
                throw e;
            } catch (SQLException e) {
                last = e;
                // Two batches that lock the same rows in another order: PostgreSQL aborts one, which tries again.
                if (!"40P01".equals(e.getSQLState()) && !"40001".equals(e.getSQLState())) {
                    break;
                }
            }
        }
        throw failure(what, last);
    }

    private static void rollback(Connection c) {
        try {
            c.rollback();
        } catch (SQLException e) {
            // the connection is gone: nothing was committed, and the pool drops it
        }
    }

    private RuntimeException failure(String what, SQLException e) {
        if (isConnectionFailure(e)) {
            String reason = "postgres at " + where + ": " + rootMessage(e);
            unanswered(reason);
            return new IllegalStateException("postgres at " + where + " does not answer: cannot " + what + ": "
                    + rootMessage(e), e);
        }
        answered();
        return new IllegalStateException("state: cannot " + what + " in postgres at " + where + ": " + e.getMessage(), e);
    }

    private static boolean isConnectionFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLTransientConnectionException || t instanceof SocketException || t instanceof EOFException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08") || sql.getSQLState().startsWith("57P"))) {
                return true;
            }
        }
        return false;
    }

    private static IllegalStateException refused(String where, String user, RuntimeException e) {
        if (isConnectionFailure(e)) {
            return new IllegalStateException("postgres at " + where + " does not answer: " + rootMessage(e), e);
        }
        return new IllegalStateException("postgres at " + where + " refused the connection as " + user + ": " + rootMessage(e), e);
    }

    private void answered() {
        if (answering.compareAndSet(false, true)) {
            log.info("state postgres={} answers again", where);
            health.up();
        }
    }

    private void unanswered(String reason) {
        if (answering.compareAndSet(true, false)) {
            log.warn("state postgres={} does not answer reason=\"{}\"", where, reason);
            health.down(reason);
        }
    }

    private void probe() {
        try (Connection c = pool.getConnection()) {
            if (c.isValid(2)) {
                answered();
            } else {
                unanswered("postgres at " + where + ": no answer to a probe within 2 s");
            }
        } catch (SQLException e) {
            if (isConnectionFailure(e)) {
                unanswered("postgres at " + where + ": " + rootMessage(e));
            }
        } catch (RuntimeException e) {
            // closing: the pool is gone
        }
    }

    // ---------------------------------------------------------------- watches

    @Override
    public Watch watch(String collection, Consumer<StateChange> listener) {
        StateStore.check(collection, "*");
        ensureOpen();
        Listener l = new Listener(collection, Objects.requireNonNull(listener, "listener"));
        listeners.add(l);
        startListening();
        return () -> listeners.remove(l);
    }

    /**
     * Hands a committed change to the listeners of its collection, unless they already saw a later change of the same
     * record: this node's writes are announced on their writers' threads, other nodes' on the listen thread, so without
     * this a listener could see version 2 and then version 1.
     */
    private void offer(StateChange change, Stamp stamp) {
        if (listeners.stream().noneMatch(l -> l.collection.equals(change.collection()))) {
            return;
        }
        RecordKey k = new RecordKey(change.collection(), change.key());
        delivery.lock();
        try {
            Stamp last = delivered.get(k);
            if (last != null && last.compareTo(stamp) >= 0) {
                return;
            }
            delivered.remove(k);
            delivered.put(k, stamp);
            for (Listener l : listeners) {
                if (l.collection.equals(change.collection())) {
                    try {
                        l.consumer.accept(change);
                    } catch (RuntimeException e) {
                        log.warn("state: a listener of {} failed on {}: {}", change.collection(), change.key(), e.toString(), e);
                    }
                }
            }
        } finally {
            delivery.unlock();
        }
    }

    /**
     * Starts the thread that hears other writers, once. Its first {@code LISTEN} is made here, before the watch is
     * returned, so a change committed after {@link #watch} returned is heard.
     */
    private void startListening() {
        lifecycle.lock();
        try {
            if (listenThread != null || closed) {
                return;
            }
            Connection first = null;
            try {
                first = listen();
            } catch (SQLException e) {
                log.warn("state postgres={} cannot listen for other writers yet: {}", where, rootMessage(e));
            }
            Connection initial = first;
            listenThread = Thread.ofVirtual().name("postgres-state-listen").start(() -> listenLoop(initial));
        } finally {
            lifecycle.unlock();
        }
    }

    private Connection listen() throws SQLException {
        Connection c = DriverManager.getConnection(url, listenProps);
        try (Statement s = c.createStatement()) {
            s.execute("LISTEN \"" + channel.replace("\"", "\"\"") + "\"");
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void listenLoop(Connection initial) {
        Connection c = initial;
        while (!closed) {
            try {
                if (c == null) {
                    c = listen();
                    log.info("state postgres={} listens for other writers again", where);
                }
                PGNotification[] notes = c.unwrap(PGConnection.class).getNotifications(500);
                if (notes != null) {
                    for (PGNotification n : notes) {
                        heard(n.getParameter());
                    }
                }
            } catch (SQLException e) {
                if (closed) {
                    break;
                }
                if (c != null) {
                    log.warn("state postgres={} lost its listen connection; changes by other nodes go unheard until it is back: {}",
                            where, rootMessage(e));
                    closeQuietly(c);
                    c = null;
                }
                try {
                    Thread.sleep(1_000);
                } catch (InterruptedException ie) {
                    break;
                }
            } catch (RuntimeException e) {
                log.warn("state postgres={}: a notification failed: {}", where, e.toString(), e);
            }
        }
        if (c != null) {
            closeQuietly(c);
        }
    }

    /*
     * A notification's payload: stamp|origin|index|op|version|updatedAt|collection|keyLength|key[|json]; the stamp
     * is put in front by PostgreSQL. op is P (a put, the document follows), R (a put whose document was too large:
     * read it) or D (a delete). The index also keeps identical changes of one batch apart, which PostgreSQL would
     * otherwise fold into one.
     */
    private String payload(int index, StateChange change) {
        StringBuilder b = new StringBuilder(origin).append('|').append(index).append('|');
        Optional<StateRecord> r = change.record();
        String head = "|" + r.map(StateRecord::version).orElse(0L) + "|" + r.map(StateRecord::updatedAtMillis).orElse(0L)
                + "|" + change.collection() + "|" + change.key().length() + "|" + change.key();
        if (r.isEmpty()) {
            return b.append('D').append(head).toString();
        }
        String inline = b + "P" + head + "|" + r.get().json();
        return inline.getBytes(StandardCharsets.UTF_8).length < NOTIFY_LIMIT ? inline : b.append('R').append(head).toString();
    }

    private void heard(String payload) {
        String[] f = payload.split("\\|", 8);
        if (f.length < 8 || f[1].equals(origin)) {
            return;
        }
        Stamp stamp = new Stamp(Long.parseLong(f[0]), Integer.parseInt(f[2]));
        String op = f[3];
        long version = Long.parseLong(f[4]);
        long updatedAt = Long.parseLong(f[5]);
        String collection = f[6];
        int bar = f[7].indexOf('|');
        int keyLength = Integer.parseInt(f[7].substring(0, bar));
        String key = f[7].substring(bar + 1, bar + 1 + keyLength);
        String rest = f[7].substring(bar + 1 + keyLength);
        if (listeners.stream().noneMatch(l -> l.collection.equals(collection))) {
            return;
        }
        switch (op) {
            case "D" -> offer(new StateChange(collection, key, Optional.empty()), stamp);
            case "P" -> offer(new StateChange(collection, key,
                    Optional.of(new StateRecord(collection, key, version, rest.substring(1), updatedAt))), stamp);
            case "R" -> {
                // Only the very record announced: if it changed since, its own notification follows.
                Optional<StateRecord> now = get(collection, key);
                if (now.isPresent() && now.get().version() == version && now.get().updatedAtMillis() == updatedAt) {
                    offer(new StateChange(collection, key, now), stamp);
                }
            }
            default -> log.warn("state postgres={}: a notification of unknown kind {}", where, op);
        }
    }

    // ---------------------------------------------------------------- closing

    @Override
    public void close() {
        Thread listening;
        lifecycle.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            listening = listenThread;
        } finally {
            lifecycle.unlock();
        }
        if (probe != null) {
            probe.shutdownNow();
        }
        if (listening != null) {
            try {
                listening.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        pool.close();
        log.info("state closed postgres={}", where);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the state store on postgres at " + where + " is closed");
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            // already broken
        }
    }

    /** {@code host:port/database} of a JDBC URL, for messages (never the password). */
    static String where(String url) {
        try {
            Properties p = org.postgresql.Driver.parseURL(url, null);
            if (p != null) {
                return p.getProperty("PGHOST", "localhost") + ":" + p.getProperty("PGPORT", "5432") + "/"
                        + p.getProperty("PGDBNAME", "");
            }
        } catch (RuntimeException e) {
            // fall through to the raw URL
        }
        String s = url.startsWith("jdbc:postgresql://") ? url.substring("jdbc:postgresql://".length()) : url;
        int q = s.indexOf('?');
        return q < 0 ? s : s.substring(0, q);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
