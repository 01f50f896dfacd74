package io.junction.store.state;

import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.state.VersionConflictException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The embedded state adapter: one SQLite file ({@code <data dir>/state/state.db}) in WAL mode with
 * {@code synchronous=FULL}, so a write that returned survives {@code kill -9} and a power cut. Writes take one lock
 * and run in a transaction each (an atomic batch is one transaction); change listeners are called after the commit.
 */
public final class SqliteStateStore implements StateStore {

    private static final Logger log = LoggerFactory.getLogger(SqliteStateStore.class);

    private final Path file;
    private final Clock clock;
    private final Connection connection;
    private final ReentrantLock lock = new ReentrantLock();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    private final PreparedStatement select;
    private final PreparedStatement selectAll;
    private final PreparedStatement upsert;
    private final PreparedStatement remove;
    private volatile boolean closed;

    private record Listener(String collection, Consumer<StateChange> consumer) {
    }

    private SqliteStateStore(Path file, Clock clock, Connection connection) throws SQLException {
        this.file = file;
        this.clock = clock;
        this.connection = connection;
        this.select = connection.prepareStatement("SELECT version, json, updated FROM state WHERE collection = ? AND key = ?");
        this.selectAll = connection.prepareStatement("SELECT key, version, json, updated FROM state WHERE collection = ? ORDER BY key");
        this.upsert = connection.prepareStatement("INSERT INTO state(collection, key, version, json, updated) VALUES (?, ?, ?, ?, ?) "
                + "ON CONFLICT(collection, key) DO UPDATE SET version = excluded.version, json = excluded.json, updated = excluded.updated");
        this.remove = connection.prepareStatement("DELETE FROM state WHERE collection = ? AND key = ?");
    }

    /** Opens (creating it if needed) the state database in {@code <dataDir>/state/state.db}. */
    public static SqliteStateStore open(Path dataDir, Clock clock) {
        return openFile(dataDir.resolve("state").resolve("state.db"), clock);
    }

    /** Opens (creating it if needed) the state database {@code file}. */
    public static SqliteStateStore openFile(Path file, Clock clock) {
        Objects.requireNonNull(clock, "clock");
        Connection c = null;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            c = DriverManager.getConnection("jdbc:sqlite:" + file);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA busy_timeout = 30000");
                s.execute("PRAGMA journal_mode = WAL");
                s.execute("PRAGMA synchronous = FULL");
                s.execute("CREATE TABLE IF NOT EXISTS state (collection TEXT NOT NULL, key TEXT NOT NULL, "
                        + "version INTEGER NOT NULL, json TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (collection, key)) WITHOUT ROWID");
            }
            c.setAutoCommit(false);
            SqliteStateStore store = new SqliteStateStore(file, clock, c);
            log.info("state opened file={} records={}", file, store.count());
            return store;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the state folder for " + file + ": " + e.getMessage(), e);
        } catch (SQLException e) {
            if (c != null) {
                try {
                    c.close();
                } catch (SQLException ignored) {
                    // already failing
                }
            }
            throw new IllegalStateException("cannot open the state database " + file + ": " + e.getMessage(), e);
        }
    }

    private long count() throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM state")) {
            rs.next();
            long n = rs.getLong(1);
            connection.commit();
            return n;
        }
    }

    @Override
    public Optional<StateRecord> get(String collection, String key) {
        StateStore.check(collection, key);
        lock.lock();
        try {
            ensureOpen();
            Optional<StateRecord> r = read(collection, key);
            connection.commit();
            return r;
        } catch (SQLException e) {
            throw failure("read " + collection + "/" + key, e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<StateRecord> list(String collection) {
        StateStore.check(collection, "*");
        lock.lock();
        try {
            ensureOpen();
            List<StateRecord> out = new ArrayList<>();
            selectAll.setString(1, collection);
            try (ResultSet rs = selectAll.executeQuery()) {
                while (rs.next()) {
                    out.add(new StateRecord(collection, rs.getString(1), rs.getLong(2), rs.getString(3), rs.getLong(4)));
                }
            }
            connection.commit();
            return out;
        } catch (SQLException e) {
            throw failure("list " + collection, e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public StateRecord put(String collection, String key, String json, long expectedVersion) {
        return write(List.of(new StateWrite.Put(collection, key, json, expectedVersion))).get(0);
    }

    @Override
    public boolean delete(String collection, String key, long expectedVersion) {
        StateStore.check(collection, key);
        lock.lock();
        boolean existed;
        try {
            existed = get(collection, key).isPresent();
            write(List.of(new StateWrite.Delete(collection, key, expectedVersion)));
        } finally {
            lock.unlock();
        }
        return existed;
    }

    @Override
    public List<StateRecord> write(List<StateWrite> writes) {
        for (StateWrite w : writes) {
            StateStore.check(w.collection(), w.key());
            if (w instanceof StateWrite.Put p) {
                Objects.requireNonNull(p.json(), "json");
            }
        }
        List<StateRecord> written = new ArrayList<>();
        List<StateChange> changes = new ArrayList<>();
        lock.lock();
        try {
            ensureOpen();
            try {
                long now = clock.millis();
                for (StateWrite w : writes) {
                    long current = read(w.collection(), w.key()).map(StateRecord::version).orElse(0L);
                    long expected = w.expectedVersion();
                    if (expected != ANY && expected != current) {
                        throw new VersionConflictException(w.collection(), w.key(), expected, current);
                    }
                    switch (w) {
                        case StateWrite.Put p -> {
                            StateRecord r = new StateRecord(p.collection(), p.key(), current + 1, p.json(), now);
                            upsert.setString(1, r.collection());
                            upsert.setString(2, r.key());
                            upsert.setLong(3, r.version());
                            upsert.setString(4, r.json());
                            upsert.setLong(5, now);
                            upsert.executeUpdate();
                            written.add(r);
                            changes.add(new StateChange(r.collection(), r.key(), Optional.of(r)));
                        }
                        case StateWrite.Delete d -> {
                            if (current != 0) {
                                remove.setString(1, d.collection());
                                remove.setString(2, d.key());
                                remove.executeUpdate();
                                changes.add(new StateChange(d.collection(), d.key(), Optional.empty()));
                            }
                        }
                    }
                }
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                rollback();
                if (e instanceof SQLException sql) {
                    throw failure("write " + writes.size() + " record(s)", sql);
                }
                throw (RuntimeException) e;
            }
            notify(changes);
        } finally {
            lock.unlock();
        }
        return written;
    }

    @Override
    public Watch watch(String collection, Consumer<StateChange> listener) {
        StateStore.check(collection, "*");
        Listener l = new Listener(collection, Objects.requireNonNull(listener, "listener"));
        listeners.add(l);
        return () -> listeners.remove(l);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            connection.close();
            log.info("state closed file={}", file);
        } catch (SQLException e) {
            log.warn("state: closing {} failed: {}", file, e.toString());
        } finally {
            lock.unlock();
        }
    }

    private Optional<StateRecord> read(String collection, String key) throws SQLException {
        select.setString(1, collection);
        select.setString(2, key);
        try (ResultSet rs = select.executeQuery()) {
            if (!rs.next()) {
                return Optional.empty();
            }
            return Optional.of(new StateRecord(collection, key, rs.getLong(1), rs.getString(2), rs.getLong(3)));
        }
    }

    private void notify(List<StateChange> changes) {
        for (StateChange change : changes) {
            for (Listener l : listeners) {
                if (l.collection.equals(change.collection())) {
                    try {
                        l.consumer.accept(change);
                    } catch (RuntimeException e) {
                        log.warn("state: a listener of {} failed on {}: {}", change.collection(), change.key(), e.toString(), e);
                    }
                }
            }
        }
    }

    private void rollback() {
        try {
            connection.rollback();
        } catch (SQLException e) {
            log.warn("state: rollback failed: {}", e.toString());
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the state database " + file + " is closed");
        }
    }

    private IllegalStateException failure(String what, SQLException e) {
        return new IllegalStateException("state: cannot " + what + " in " + file + ": " + e.getMessage(), e);
    }
}
