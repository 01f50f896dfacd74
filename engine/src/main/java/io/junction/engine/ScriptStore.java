package io.junction.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The engine's files under {@code <data dir>/engine/}: one JSON file per script in {@code scripts/} (its source, bind
 * patterns, version) and one per script in {@code offsets/} (the raw-stream offset it has processed up to, and the
 * processed stream's end when that was committed). Every file is replaced atomically (written aside, forced, renamed),
 * so a crash leaves the old version or the new one, never half of one.
 */
final class ScriptStore {

    private static final Logger log = LoggerFactory.getLogger(ScriptStore.class);

    /** A stored version of a script. */
    record Stored(ScriptSource source, long version, long storedAt) {
    }

    /**
     * Where a script is in the streams.
     *
     * @param raw       the next raw-stream offset it will look at: everything before it is processed, its outputs durable
     * @param processed the processed stream's end when {@code raw} was committed: outputs appended after a crash but
     *                  before the next commit are at or after it
     */
    record Offsets(long raw, long processed) {
    }

    private final Path scripts;
    private final Path offsets;

    ScriptStore(Path dir) {
        this.scripts = dir.resolve("scripts");
        this.offsets = dir.resolve("offsets");
        try {
            Files.createDirectories(scripts);
            Files.createDirectories(offsets);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the engine's folders under " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Every stored script; a file that cannot be read is logged and left out. */
    List<Stored> loadAll() {
        List<Stored> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(scripts)) {
            for (Path p : files.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList()) {
                try {
                    out.add(read(p));
                } catch (IOException | RuntimeException e) {
                    log.error("script file {} cannot be read and is skipped: {}", p, e.toString());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + scripts + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static Stored read(Path p) throws IOException {
        JsonNode n = Json.MAPPER.readTree(p.toFile());
        Language language = Language.parse(n.path("language").asText())
                .orElseThrow(() -> new IOException("unknown language '" + n.path("language").asText() + "'"));
        byte[] code = language == Language.WASM
                ? Base64.getDecoder().decode(n.path("source").asText())
                : n.path("source").asText().getBytes(StandardCharsets.UTF_8);
        List<RoutingPattern> bind = new ArrayList<>();
        for (JsonNode b : n.path("bind")) {
            bind.add(RoutingPattern.of(b.asText()));
        }
        io.junction.core.auth.Principal owner = n.has("owner")
                ? new io.junction.core.auth.Principal(n.path("owner").asText(),
                        io.junction.core.auth.Role.parse(n.path("ownerRole").asText()).orElse(io.junction.core.auth.Role.USER))
                : ScriptSource.NO_OWNER;
        ScriptSource source = new ScriptSource(n.path("name").asText(), language, code, bind, n.path("origin").asText("api"), owner);
        return new Stored(source, n.path("version").asLong(1), n.path("stored").asLong(0));
    }

    void save(Stored s) {
        ObjectNode n = Json.object();
        ScriptSource src = s.source();
        n.put("name", src.name());
        n.put("language", src.language().id());
        ArrayNode bind = n.putArray("bind");
        src.bindValues().forEach(bind::add);
        n.put("origin", src.origin());
        n.put("owner", src.owner().user());
        n.put("ownerRole", src.owner().role().id());
        n.put("version", s.version());
        n.put("stored", s.storedAt());
        n.put("source", src.language() == Language.WASM ? Base64.getEncoder().encodeToString(src.code()) : src.text());
        write(scripts.resolve(src.name() + ".json"), Json.write(n), true);
    }

    void delete(String name) {
        try {
            Files.deleteIfExists(scripts.resolve(name + ".json"));
            Files.deleteIfExists(offsets.resolve(name + ".json"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the files of script '" + name + "': " + e.getMessage(), e);
        }
    }

    Optional<Offsets> offsets(String name) {
        Path p = offsets.resolve(name + ".json");
        try {
            JsonNode n = Json.MAPPER.readTree(p.toFile());
            return Optional.of(new Offsets(n.path("raw").asLong(), n.path("processed").asLong()));
        } catch (IOException e) {
            if (!(e instanceof NoSuchFileException) && Files.exists(p)) {
                log.error("offsets file {} cannot be read; the script starts at the end of the raw stream: {}", p, e.toString());
            }
            return Optional.empty();
        }
    }

    /** Commits a script's offsets. Not followed by a directory sync: losing the rename only repeats work, which the ids make harmless. */
    void saveOffsets(String name, Offsets o) {
        write(offsets.resolve(name + ".json"), "{\"raw\":" + o.raw() + ",\"processed\":" + o.processed() + "}", false);
    }

    private static void write(Path target, String text, boolean syncDirectory) {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(false);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            if (syncDirectory) {
                try (FileChannel d = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                    d.force(true);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }
}
