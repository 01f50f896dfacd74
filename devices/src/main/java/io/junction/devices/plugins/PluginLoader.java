package io.junction.devices.plugins;

import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.JavaDriverType;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Loads driver plugins: every {@code *.jar} in the plugins folder whose {@code META-INF/junction/drivers} lists driver
 * classes. Each version of a jar is copied to a private file and gets a class loader of its own; a new version
 * replaces the drivers of the old one in the {@link DriverCatalog} only once every one of its drivers has loaded and
 * validated, and deleting the jar removes its drivers. A jar that cannot be loaded is reported to the catalog as a
 * failure while the version that runs (if any) stays.
 *
 * <p>The folder is watched with a {@link WatchService} and rescanned periodically as a fallback (the folder may not
 * exist yet, or be on a file system that sends no events). A file is read only once its size, time and identity have
 * stayed the same for a settle period, so a jar still being copied is not read half-written; one that is moved into
 * place is read once.
 *
 * <p>Releasing an old version: its class loader is closed right after the new version is in the catalog, and its
 * private copy deleted. Modules still running the old code keep working, because every class of a jar is loaded
 * when the jar is (so nothing is looked up in the closed jar later); what an old version can no longer do is read its
 * own resources ({@code getResource}). Once nothing refers to its classes, the old loader is collected.
 */
public final class PluginLoader implements AutoCloseable {

    /** The entry of a plugin jar that names its driver classes, one fully-qualified name per line. */
    public static final String DRIVERS_FILE = "META-INF/junction/drivers";

    private static final Logger log = LoggerFactory.getLogger(PluginLoader.class);
    private static final Pattern CLASS_NAME = Pattern.compile(
            "\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*");
    private static final Duration SETTLE = Duration.ofMillis(300);
    private static final Duration RESCAN = Duration.ofSeconds(2);

    /**
     * What the API shows of one plugin file.
     *
     * @param version  the number of the version that runs (1 for the first content read from the file); 0 when none runs
     * @param checksum the SHA-256 of the running version, in hex; empty when none runs
     * @param drivers  the ids of the drivers the running version provides
     * @param loadedAt when the running version was put in the catalog
     * @param error    why the newest content of the file was not loaded, when it was not
     */
    public record Plugin(String file, int version, String checksum, List<String> drivers, Optional<Instant> loadedAt,
                         Optional<String> error) {

        public Plugin {
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(checksum, "checksum");
            drivers = List.copyOf(drivers);
            Objects.requireNonNull(loadedAt, "loadedAt");
            Objects.requireNonNull(error, "error");
        }
    }

    /** What a file looked like when listed: two equal ones mean it did not change (a moved-in file has a new key). */
    private record Stat(long size, FileTime modified, Object key) {
    }

    /** A file seen changed at {@code since} (System.nanoTime), waiting to stay the same for the settle period. */
    private record Pending(Stat stat, long since) {
    }

    /** A jar that could not be loaded, and why, in words for the catalog and the log. */
    private static final class PluginException extends Exception {
        PluginException(String message) {
            super(message);
        }
    }

    /** One loaded version of a plugin file; dropping it (and closing its loader) lets its classes be collected. */
    private record Version(int number, String checksum, Path copy, URLClassLoader loader, List<JavaDriverType> types,
                           Instant loadedAt) {
    }

    /** What the loop knows of one file in the folder. */
    private static final class FileState {
        /** The file as it was when last read, loaded or not; a change from this is new content to read. */
        Stat settled;
        Pending pending;
        /** The checksum of the content read last, so touching a file or moving the same bytes in again does nothing. */
        String lastChecksum = "";
        Version running;
        String error;
    }

    private final Path folder;
    private final DriverCatalog catalog;
    private final Clock clock;
    private final long settleNanos;
    private final long rescanMillis;
    private final Counter failures;
    private final Counter reloads;

    // Owned by the loop thread (and by start() before the thread exists).
    private final Map<String, FileState> files = new HashMap<>();
    private final Map<String, Integer> versions = new HashMap<>();
    private Path privateDir;
    private WatchService watch;
    private WatchKey watchKey;
    private Thread thread;

    private volatile List<Plugin> snapshot = List.of();
    private volatile int loaded;
    private volatile boolean closed;

    public PluginLoader(Path folder, DriverCatalog catalog, MeterRegistry metrics) {
        this(folder, catalog, metrics, Clock.systemUTC(), SETTLE, RESCAN);
    }

    /** With the clock of {@code loadedAt}, the settle period of a changed file and the rescan interval. */
    PluginLoader(Path folder, DriverCatalog catalog, MeterRegistry metrics, Clock clock, Duration settle, Duration rescan) {
        this.folder = folder.toAbsolutePath().normalize();
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.settleNanos = settle.toNanos();
        this.rescanMillis = Math.max(1, rescan.toMillis());
        this.failures = Counter.builder("junction.plugins.failures")
                .description("Plugin jars (or new versions of them) that could not be loaded").register(metrics);
        this.reloads = Counter.builder("junction.plugins.reloads")
                .description("Plugin jars whose new version replaced the running one").register(metrics);
        Gauge.builder("junction.plugins.loaded", this, l -> l.loaded)
                .description("Plugin jars whose drivers are loaded").register(metrics);
    }

    /**
     * Loads every jar in the folder (their drivers are in the catalog when this returns), then watches the folder. A
     * folder that does not exist yet is watched from when it appears.
     */
    public synchronized PluginLoader start() throws IOException {
        if (thread != null || closed) {
            throw new IllegalStateException("the plugin loader of " + folder + " was already started");
        }
        privateDir = Files.createTempDirectory("junction-plugins-");
        watch = FileSystems.getDefault().newWatchService();
        watchFolder();
        scan(true);
        thread = Thread.ofVirtual().name("driver-plugins").start(this::loop);
        log.info("plugin loader started folder={} plugins={}", folder, snapshot.size());
        return this;
    }

    /** Every plugin file that runs a version or failed to load, by file name. */
    public List<Plugin> plugins() {
        return snapshot;
    }

    /** The folder watched. */
    public Path folder() {
        return folder;
    }

    // ---- the loop ----

    private void loop() {
        while (!closed) {
            try {
                watchFolder();
                WatchKey key = watch.poll(waitMillis(), TimeUnit.MILLISECONDS);
                while (key != null) {
                    key.pollEvents();
                    key.reset();
                    key = watch.poll();
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            }
            if (closed) {
                return;
            }
            try {
                scan(false);
            } catch (RuntimeException e) {
                log.warn("scanning the plugins folder {} failed: {}", folder, e.toString(), e);
            }
        }
    }

    /** Until the next scan: the end of the earliest settle period, else the rescan interval. */
    private long waitMillis() {
        long now = System.nanoTime();
        long wait = rescanMillis;
        for (FileState s : files.values()) {
            if (s.pending != null) {
                long left = TimeUnit.NANOSECONDS.toMillis(s.pending.since + settleNanos - now) + 1;
                wait = Math.min(wait, Math.max(1, left));
            }
        }
        return wait;
    }

    /** Registers the folder with the watch service when it exists and is not registered (again, after it was re-created). */
    private void watchFolder() {
        if (watchKey != null && watchKey.isValid()) {
            return;
        }
        watchKey = null;
        if (!Files.isDirectory(folder)) {
            return;
        }
        try {
            watchKey = folder.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                    StandardWatchEventKinds.ENTRY_DELETE);
        } catch (IOException e) {
            log.debug("cannot watch {} ({}); rescanning it every {} ms", folder, e.toString(), rescanMillis);
        }
    }

    /** Reads the jars that changed and settled ({@code initial}: every jar, at once), and unloads those that are gone. */
    private void scan(boolean initial) {
        Map<String, Path> present = new LinkedHashMap<>();
        if (Files.isDirectory(folder)) {
            try (Stream<Path> list = Files.list(folder)) {
                list.filter(p -> {
                    String name = p.getFileName().toString();
                    return name.endsWith(".jar") && !name.startsWith(".") && Files.isRegularFile(p);
                }).sorted().forEach(p -> present.put(p.getFileName().toString(), p));
            } catch (IOException e) {
                log.warn("cannot list the plugins folder {}: {}", folder, e.toString());
                return;
            }
        }
        long now = System.nanoTime();
        for (Map.Entry<String, Path> e : present.entrySet()) {
            String file = e.getKey();
            FileState s = files.computeIfAbsent(file, f -> new FileState());
            Stat stat;
            try {
                stat = stat(e.getValue());
            } catch (IOException ex) {
                continue;
            }
            if (stat.equals(s.settled)) {
                s.pending = null;
                continue;
            }
            if (!initial) {
                if (s.pending == null || !s.pending.stat.equals(stat)) {
                    s.pending = new Pending(stat, now);
                    continue;
                }
                if (now - s.pending.since < settleNanos) {
                    continue;
                }
            }
            s.pending = null;
            read(file, e.getValue(), s, stat);
        }
        for (String file : new ArrayList<>(files.keySet())) {
            if (!present.containsKey(file)) {
                removed(file);
            }
        }
        publish();
    }

    private static Stat stat(Path p) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        return new Stat(a.size(), a.lastModifiedTime(), a.fileKey());
    }

    /** Copies a settled jar to a private file and loads it, unless its content is what was read last. */
    private void read(String file, Path path, FileState s, Stat before) {
        Path incoming;
        String checksum;
        try {
            incoming = Files.createTempFile(privateDir, "incoming-", ".jar");
        } catch (IOException e) {
            log.warn("cannot copy plugin {} to {}: {}", path, privateDir, e.toString());
            return;
        }
        try {
            checksum = copy(path, incoming);
            Stat after = stat(path);
            if (!after.equals(before)) {
                // Still being written: read it again once it settles.
                deleteQuietly(incoming);
                s.pending = new Pending(after, System.nanoTime());
                return;
            }
        } catch (NoSuchFileException e) {
            deleteQuietly(incoming);
            return;
        } catch (IOException e) {
            deleteQuietly(incoming);
            s.settled = before;
            int n = nextVersion(file);
            fail(file, n, s, "cannot be read: " + e);
            return;
        }
        s.settled = before;
        if (checksum.equals(s.lastChecksum)) {
            deleteQuietly(incoming);
            return;
        }
        s.lastChecksum = checksum;
        if (s.running != null && checksum.equals(s.running.checksum())) {
            // The running version was put back after a failed one: nothing to load, and nothing has failed any more.
            deleteQuietly(incoming);
            if (s.error != null) {
                s.error = null;
                catalog.clearFailure(failureSource(file));
            }
            return;
        }
        int n = nextVersion(file);
        String base = file.substring(0, file.length() - ".jar".length());
        Path copy = privateDir.resolve(base + "-v" + n + ".jar");
        try {
            Files.move(incoming, copy, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            deleteQuietly(incoming);
            fail(file, n, s, "cannot be copied to " + copy + ": " + e);
            return;
        }
        Version v;
        try {
            v = load(file, n, checksum, copy, s.running);
        } catch (PluginException e) {
            deleteQuietly(copy);
            fail(file, n, s, e.getMessage());
            return;
        }
        install(file, s, v);
    }

    /** Copies {@code from} to {@code to}, answering the SHA-256 of the bytes copied. */
    private static String copy(Path from, Path to) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JDK has no SHA-256", e);
        }
        try (InputStream in = Files.newInputStream(from);
             OutputStream out = new DigestOutputStream(Files.newOutputStream(to), sha)) {
            in.transferTo(out);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private int nextVersion(String file) {
        return versions.merge(file, 1, Integer::sum);
    }

    /** Loads every driver a private copy names, or throws saying why none is used. */
    private Version load(String file, int n, String checksum, Path copy, Version old) throws PluginException {
        List<String> classNames;
        List<String> classEntries = new ArrayList<>();
        try (ZipFile zip = new ZipFile(copy.toFile())) {
            ZipEntry entry = zip.getEntry(DRIVERS_FILE);
            if (entry == null) {
                throw new PluginException("has no " + DRIVERS_FILE + " (it should list the jar's driver classes, one"
                        + " fully-qualified class name per line)");
            }
            try (InputStream in = zip.getInputStream(entry)) {
                classNames = driverClasses(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
            zip.stream().map(ZipEntry::getName).filter(PluginLoader::isClassEntry).forEach(classEntries::add);
        } catch (ZipException e) {
            throw new PluginException("is not a jar (zip) file: " + e.getMessage());
        } catch (IOException e) {
            throw new PluginException("cannot be read as a jar: " + e);
        }
        String source = "plugin " + file + " (v" + n + ")";
        URLClassLoader loader;
        try {
            loader = new URLClassLoader("plugin " + file + " v" + n, new URL[]{copy.toUri().toURL()},
                    PluginLoader.class.getClassLoader());
        } catch (IOException e) {
            throw new PluginException("cannot be opened: " + e);
        }
        boolean ok = false;
        try {
            List<JavaDriverType> types = new ArrayList<>();
            Map<String, String> ids = new HashMap<>();
            for (String name : classNames) {
                JavaDriverType type = driver(loader, name, source);
                String id = type.metadata().id();
                String other = ids.put(id, name);
                if (other != null) {
                    throw new PluginException("classes " + other + " and " + name + " both have the driver id '" + id + "'");
                }
                Optional<DriverType> existing = catalog.get(id);
                if (existing.isPresent() && (old == null || old.types().stream().noneMatch(t -> t == existing.get()))) {
                    throw new PluginException("class " + name + " has the driver id '" + id + "', which "
                            + existing.get().source() + " already provides; driver ids must be unique on the server");
                }
                types.add(type);
            }
            preload(loader, classEntries);
            ok = true;
            return new Version(n, checksum, copy, loader, List.copyOf(types), clock.instant());
        } finally {
            if (!ok) {
                closeQuietly(loader);
            }
        }
    }

    /** The class names of a drivers file: one per line, {@code #} starts a comment, blank lines are skipped. */
    static List<String> driverClasses(String text) throws PluginException {
        Set<String> names = new LinkedHashSet<>();
        String[] lines = text.split("\r?\n|\r", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (i == 0 && line.startsWith("\uFEFF")) {
                line = line.substring(1).strip();
            }
            if (line.isEmpty()) {
                continue;
            }
            if (!CLASS_NAME.matcher(line).matches()) {
                throw new PluginException(DRIVERS_FILE + " line " + (i + 1) + ": '" + line + "' is not a class name;"
                        + " write one fully-qualified class name per line, such as com.acme.Pump");
            }
            names.add(line);
        }
        if (names.isEmpty()) {
            throw new PluginException(DRIVERS_FILE + " names no driver class; write one fully-qualified class name per"
                    + " line, such as com.acme.Pump");
        }
        return List.copyOf(names);
    }

    private static JavaDriverType driver(URLClassLoader loader, String name, String source) throws PluginException {
        Class<?> cls;
        try {
            cls = Class.forName(name, false, loader);
        } catch (ClassNotFoundException e) {
            throw new PluginException(DRIVERS_FILE + " names " + name + ", which is not in the jar");
        } catch (LinkageError e) {
            throw new PluginException("class " + name + " cannot be loaded: " + e);
        }
        if (cls.getClassLoader() != loader) {
            throw new PluginException("class " + name + " is also on the server's class path, so the plugin's own"
                    + " version would never run; give the plugin's classes a package of their own");
        }
        try {
            return JavaDriverType.of(cls, source);
        } catch (IllegalArgumentException e) {
            throw new PluginException(e.getMessage());
        } catch (RuntimeException | LinkageError e) {
            throw new PluginException("class " + name + " cannot be read as a driver: " + e);
        }
    }

    private static boolean isClassEntry(String name) {
        return name.endsWith(".class") && !name.startsWith("META-INF/") && !name.endsWith("module-info.class")
                && !name.endsWith("package-info.class");
    }

    /**
     * Loads every class of the jar now, so that closing the loader when a newer version replaces this one does not
     * break code of this version that runs later. A class that cannot be loaded (it needs a library the jar lacks) is
     * skipped: the driver fails when it uses it, as it would anyway.
     */
    private static void preload(ClassLoader loader, List<String> entries) {
        for (String entry : entries) {
            String name = entry.substring(0, entry.length() - ".class".length()).replace('/', '.');
            try {
                Class.forName(name, false, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                log.debug("plugin class {} not preloaded: {}", name, e.toString());
            }
        }
    }

    /** Puts a loaded version's drivers in the catalog, removes those the old version had and this one has not, releases the old one. */
    private void install(String file, FileState s, Version v) {
        Version old = s.running;
        Set<String> ids = new HashSet<>();
        for (JavaDriverType t : v.types()) {
            ids.add(t.metadata().id());
            try {
                catalog.put(t);
            } catch (RuntimeException e) {
                log.warn("a listener of the driver catalog failed on driver {} of plugin {}: {}", t.metadata().id(), file, e.toString(), e);
            }
        }
        s.running = v;
        s.error = null;
        catalog.clearFailure(failureSource(file));
        if (old != null) {
            removeDrivers(old, ids);
            release(old);
            reloads.increment();
            log.info("plugin replaced file={} from=v{} to=v{} drivers={} checksum={}", file, old.number(), v.number(), ids, v.checksum());
        } else {
            log.info("plugin loaded file={} version=v{} drivers={} checksum={}", file, v.number(), ids, v.checksum());
        }
    }

    private void fail(String file, int n, FileState s, String reason) {
        String message = "v" + n + " not loaded: " + reason
                + (s.running == null ? "" : " (v" + s.running.number() + " keeps running)");
        s.error = message;
        failures.increment();
        log.warn("plugin {}: {}", folder.resolve(file), message);
        catalog.failed(failureSource(file), message);
    }

    /** The jar is gone: its drivers leave the catalog and its version is released. */
    private void removed(String file) {
        FileState s = files.remove(file);
        if (s.running != null) {
            removeDrivers(s.running, Set.of());
            release(s.running);
            log.info("plugin removed file={} version=v{}", file, s.running.number());
        }
        catalog.clearFailure(failureSource(file));
    }

    /** Removes the drivers of {@code v} whose ids are not in {@code keep}, if the catalog still holds them from {@code v}. */
    private void removeDrivers(Version v, Set<String> keep) {
        for (JavaDriverType t : v.types()) {
            String id = t.metadata().id();
            if (!keep.contains(id) && catalog.get(id).orElse(null) == t) {
                catalog.remove(id);
                log.info("driver removed id={} source={}", id, t.source());
            }
        }
    }

    private static void release(Version v) {
        closeQuietly(v.loader());
        deleteQuietly(v.copy());
    }

    private static String failureSource(String file) {
        return "plugin " + file;
    }

    private void publish() {
        List<Plugin> list = new ArrayList<>();
        int count = 0;
        for (Map.Entry<String, FileState> e : files.entrySet()) {
            FileState s = e.getValue();
            if (s.running == null && s.error == null) {
                continue;
            }
            Version v = s.running;
            if (v != null) {
                count++;
            }
            list.add(new Plugin(e.getKey(), v == null ? 0 : v.number(), v == null ? "" : v.checksum(),
                    v == null ? List.of() : v.types().stream().map(t -> t.metadata().id()).sorted().toList(),
                    v == null ? Optional.empty() : Optional.of(v.loadedAt()), Optional.ofNullable(s.error)));
        }
        list.sort(Comparator.comparing(Plugin::file));
        snapshot = List.copyOf(list);
        loaded = count;
    }

    private static void closeQuietly(URLClassLoader loader) {
        try {
            loader.close();
        } catch (IOException e) {
            log.debug("closing the class loader {} failed: {}", loader.getName(), e.toString());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.debug("cannot delete {}: {}", p, e.toString());
        }
    }

    /**
     * Stops watching and releases every loaded version (closing its class loader, deleting its private copy). The
     * drivers stay in the catalog: the server is stopping, and modules stop on the code they run.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (watch != null) {
            try {
                watch.close();
            } catch (IOException e) {
                log.debug("closing the watch service failed: {}", e.toString());
            }
        }
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                log.warn("the plugin loader of {} did not stop within 5 s (a plugin class still initialising?); its versions are not released", folder);
                return;
            }
        }
        for (FileState s : files.values()) {
            if (s.running != null) {
                release(s.running);
            }
        }
        files.clear();
        snapshot = List.of();
        loaded = 0;
        if (privateDir != null) {
            try (Stream<Path> left = Files.list(privateDir)) {
                left.forEach(PluginLoader::deleteQuietly);
            } catch (IOException e) {
                log.debug("cannot list {}: {}", privateDir, e.toString());
            }
            deleteQuietly(privateDir);
        }
        log.info("plugin loader stopped folder={}", folder);
    }
}
