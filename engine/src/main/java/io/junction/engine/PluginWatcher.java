package io.junction.engine;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;
import io.junction.core.actor.Actor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Watches the plugins folder: a {@code NAME.wasm} file that appears or changes is stored as the WASM script
 * {@code NAME} (swapped in like any new version), and one that disappears deletes the script it made. The bind
 * patterns come from {@code NAME.json} ({@code {"bind": ["pattern", ...]}}) when present, else stay those of the
 * existing script, else are {@code #}. The folder is polled every half second (a timer of its actor; polling rather
 * than a {@code WatchService}, which would need a thread blocked on it and misses changes on some file systems), and a
 * file is read only once its size and time have stayed the same for one poll, so a file still being copied is not
 * read half-written.
 */
final class PluginWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PluginWatcher.class);
    private static final Duration POLL = Duration.ofMillis(500);

    /** The watcher's one command: look at the folder (its timer, every {@link #POLL}). */
    private record Scan() {
    }

    private record Seen(long size, long modified, long sidecarModified) {
    }

    private final Path dir;
    private final Engine engine;
    // Owned by the actor.
    private final Map<String, Seen> candidates = new HashMap<>();
    private final Map<String, Seen> loaded = new HashMap<>();
    private final Actor<Scan> actor;

    PluginWatcher(Path dir, Engine engine, Clock clock) {
        this.dir = dir;
        this.engine = engine;
        // The folder is not created here: it may be outside the data directory, and watching starts when it appears.
        this.actor = Actor.start("engine-plugins", 4, clock, this::handle);
        actor.tell(new Scan());
    }

    private void handle(Scan scan) {
        try {
            scan();
        } catch (RuntimeException e) {
            log.warn("scanning the plugins folder {} failed: {}", dir, e.toString());
        } finally {
            if (!actor.isClosed()) {
                actor.scheduleAfter(POLL, "scan", scan);
            }
        }
    }

    private void scan() {
        if (!Files.isDirectory(dir)) {
            return;
        }
        Set<String> present = new HashSet<>();
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".wasm")).toList();
        } catch (IOException e) {
            log.warn("cannot list the plugins folder {}: {}", dir, e.toString());
            return;
        }
        for (Path p : files) {
            String file = p.getFileName().toString();
            String name = file.substring(0, file.length() - ".wasm".length());
            present.add(name);
            Seen seen;
            try {
                Path sidecar = dir.resolve(name + ".json");
                seen = new Seen(Files.size(p), Files.getLastModifiedTime(p).toMillis(),
                        Files.exists(sidecar) ? Files.getLastModifiedTime(sidecar).toMillis() : 0);
            } catch (IOException e) {
                continue;
            }
            if (seen.equals(loaded.get(name))) {
                continue;
            }
            if (!seen.equals(candidates.put(name, seen))) {
                continue;
            }
            loaded.put(name, seen);
            load(name, p);
        }
        for (String name : new ArrayList<>(loaded.keySet())) {
            if (!present.contains(name)) {
                loaded.remove(name);
                candidates.remove(name);
                if (!actor.isClosed()) {
                    log.info("plugin {}.wasm was removed from {}", name, dir);
                    engine.deletePlugin(name);
                }
            }
        }
    }

    private void load(String name, Path file) {
        String problem = ScriptSource.nameProblem(name);
        if (problem != null) {
            log.warn("plugin {} is ignored: {}", file, problem);
            return;
        }
        try {
            byte[] module = Files.readAllBytes(file);
            if (engine.storePlugin(name, module, bind(name))) {
                log.info("plugin {} stored as script {}", file, name);
            }
        } catch (ScriptRejectedException e) {
            log.warn("plugin {} is refused: {}", file, e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.warn("plugin {} cannot be loaded: {}", file, e.toString());
        }
    }

    private Optional<List<RoutingPattern>> bind(String name) throws IOException {
        Path sidecar = dir.resolve(name + ".json");
        if (!Files.exists(sidecar)) {
            return Optional.empty();
        }
        JsonNode n = Json.MAPPER.readTree(sidecar.toFile());
        JsonNode bind = n == null ? null : n.get("bind");
        if (bind == null || !bind.isArray() || bind.isEmpty()) {
            throw new IOException(sidecar + " must hold {\"bind\": [\"pattern\", ...]}");
        }
        List<RoutingPattern> out = new ArrayList<>();
        for (JsonNode b : bind) {
            out.add(RoutingPattern.of(b.asText()));
        }
        return Optional.of(out);
    }

    @Override
    public void close() {
        actor.close(Duration.ofSeconds(5));
    }
}
