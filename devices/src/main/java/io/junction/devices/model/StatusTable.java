package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status variables of every module ({@code status/<module_id>}: name → JSON), kept in memory and written to
 * {@code status.json} in the devices folder at most every half second when something changed, and on close, so a
 * restart shows the last values before the modules report again.
 */
final class StatusTable implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StatusTable.class);

    /** Called on every change, from the thread that set the value (a module's actor). */
    interface Listener {
        void changed(String moduleId, String name, JsonNode value);
    }

    private final Path file;
    private final Map<String, Map<String, JsonNode>> modules = new ConcurrentHashMap<>();
    private final AtomicBoolean dirty = new AtomicBoolean();
    private final Thread flusher;
    private volatile boolean closed;
    private volatile Listener listener = (m, n, v) -> { };

    StatusTable(Path dir) {
        this.file = dir.resolve("status.json");
        load();
        flusher = Thread.ofVirtual().name("status-flush").start(this::flushLoop);
    }

    void listener(Listener l) {
        this.listener = l;
    }

    /** Sets a value; true (and the listener told) when it changed. */
    boolean set(String moduleId, String name, JsonNode value) {
        Map<String, JsonNode> vars = modules.computeIfAbsent(moduleId, k -> new ConcurrentHashMap<>());
        JsonNode old = vars.put(name, value);
        if (value.equals(old)) {
            return false;
        }
        dirty.set(true);
        listener.changed(moduleId, name, value);
        return true;
    }

    Optional<JsonNode> get(String moduleId, String name) {
        Map<String, JsonNode> vars = modules.get(moduleId);
        return vars == null ? Optional.empty() : Optional.ofNullable(vars.get(name));
    }

    ObjectNode all(String moduleId) {
        ObjectNode o = Json.object();
        Map<String, JsonNode> vars = modules.get(moduleId);
        if (vars != null) {
            new java.util.TreeMap<>(vars).forEach(o::set);
        }
        return o;
    }

    void remove(String moduleId) {
        if (modules.remove(moduleId) != null) {
            dirty.set(true);
        }
    }

    private void load() {
        if (!Files.exists(file)) {
            return;
        }
        try {
            JsonNode root = Json.MAPPER.readTree(file.toFile());
            root.properties().forEach(m -> {
                Map<String, JsonNode> vars = new ConcurrentHashMap<>();
                m.getValue().properties().forEach(v -> vars.put(v.getKey(), v.getValue()));
                modules.put(m.getKey(), vars);
            });
        } catch (IOException e) {
            log.warn("module status in {} cannot be read ({}); starting without it", file, e.getMessage());
        }
    }

    private void flushLoop() {
        while (!closed) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
            flush();
        }
    }

    synchronized void flush() {
        if (!dirty.getAndSet(false)) {
            return;
        }
        ObjectNode root = Json.object();
        new java.util.TreeMap<>(modules).forEach((id, vars) -> {
            ObjectNode o = root.putObject(id);
            new java.util.TreeMap<>(vars).forEach(o::set);
        });
        writeAtomically(file, root);
    }

    /** Writes JSON to a temp file, forces it to disk and renames it over {@code target}. */
    static void writeAtomically(Path target, JsonNode json) {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try {
            Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
            try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                c.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        closed = true;
        flusher.interrupt();
        flush();
    }
}
