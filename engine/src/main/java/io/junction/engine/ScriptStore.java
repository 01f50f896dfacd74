package io.junction.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The engine's records in the state port: each script in collection {@value #SCRIPTS} under its name (source, bind
 * patterns, owner, version), and how far each script's live processing got in {@value #OFFSETS} under
 * {@code <raw stream>/script-<name>}, beside the other followers' offsets. Changes to a script are compare-and-set
 * against the record's version, so two nodes storing the same script at once cannot overwrite each other unseen.
 *
 * <p>Older servers kept these as JSON files under {@code <data dir>/engine/scripts} and {@code .../offsets}; they are
 * imported once, on the first start whose state holds no script, and renamed {@code *.imported}.
 */
final class ScriptStore {

    private static final Logger log = LoggerFactory.getLogger(ScriptStore.class);
    static final String SCRIPTS = "scripts";
    static final String OFFSETS = "offsets";
    private static final String IMPORTED = ".imported";

    /** A stored version of a script. */
    record Stored(ScriptSource source, long version, long storedAt) {
    }

    /** A stored script and the version of its record, for a compare-and-set. */
    record Found(Stored stored, long revision) {
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

    private final StateStore state;
    private final String rawStream;

    ScriptStore(StateStore state, String rawStream) {
        this.state = state;
        this.rawStream = rawStream;
    }

    /** Every stored script; a record that cannot be read is logged and left out. */
    List<Stored> loadAll() {
        List<Stored> out = new ArrayList<>();
        for (StateRecord r : state.list(SCRIPTS)) {
            try {
                out.add(read(Json.MAPPER.readTree(r.json())));
            } catch (IOException | RuntimeException e) {
                log.error("script record {} cannot be read and is skipped: {}", r.key(), e.toString());
            }
        }
        return out;
    }

    Optional<Found> find(String name) {
        return state.get(SCRIPTS, name).map(r -> {
            try {
                return new Found(read(Json.MAPPER.readTree(r.json())), r.version());
            } catch (IOException e) {
                throw new UncheckedIOException("the record of script '" + name + "' cannot be read: " + e.getMessage(), e);
            }
        });
    }

    /**
     * Saves a script if its record is at {@code expectedRevision} ({@link StateStore#ABSENT} for a new one); a
     * {@link io.junction.core.state.VersionConflictException} when someone else changed it first.
     */
    void save(Stored s, long expectedRevision) {
        state.put(SCRIPTS, s.source().name(), write(s), expectedRevision);
    }

    /** Deletes a script at {@code expectedRevision} and its offsets, together. */
    void delete(String name, long expectedRevision) {
        state.write(List.of(new StateWrite.Delete(SCRIPTS, name, expectedRevision),
                new StateWrite.Delete(OFFSETS, offsetsKey(name), StateStore.ANY)));
    }

    Optional<Offsets> offsets(String name) {
        return state.get(OFFSETS, offsetsKey(name)).flatMap(r -> {
            try {
                JsonNode n = Json.MAPPER.readTree(r.json());
                return Optional.of(new Offsets(n.path("next").asLong(), n.path("processed").asLong()));
            } catch (IOException e) {
                log.error("the offsets of script {} cannot be read; it starts at the end of the raw stream: {}", name, e.toString());
                return Optional.empty();
            }
        });
    }

    /** Commits a script's offsets; the same shape as every follower's ({@code next}), plus the processed stream's end. */
    void saveOffsets(String name, Offsets o) {
        state.put(OFFSETS, offsetsKey(name), offsetsJson(o));
    }

    /** Commits several scripts' offsets in one write. */
    void saveOffsets(Map<String, Offsets> offsets) {
        List<StateWrite> writes = new ArrayList<>(offsets.size());
        offsets.forEach((name, o) -> writes.add(new StateWrite.Put(OFFSETS, offsetsKey(name), offsetsJson(o), StateStore.ANY)));
        state.write(writes);
    }

    private String offsetsKey(String name) {
        return rawStream + "/script-" + name;
    }

    private static String offsetsJson(Offsets o) {
        return "{\"next\":" + o.raw() + ",\"processed\":" + o.processed() + "}";
    }

    /**
     * Imports the script and offsets files an older server wrote under {@code dir}, in one atomic write, when the
     * state holds no script yet; renames each imported file {@code *.imported}. Returns how many scripts came in.
     */
    int importFiles(Path dir) {
        Path scripts = dir.resolve("scripts");
        Path offsets = dir.resolve("offsets");
        List<Path> scriptFiles = jsonFiles(scripts);
        List<Path> offsetFiles = jsonFiles(offsets);
        if (scriptFiles.isEmpty() && offsetFiles.isEmpty() || !state.list(SCRIPTS).isEmpty()) {
            return 0;
        }
        List<StateWrite> writes = new ArrayList<>();
        List<Path> imported = new ArrayList<>();
        int count = 0;
        for (Path p : scriptFiles) {
            try {
                Stored s = read(Json.MAPPER.readTree(p.toFile()));
                writes.add(new StateWrite.Put(SCRIPTS, s.source().name(), write(s), StateStore.ABSENT));
                imported.add(p);
                count++;
            } catch (IOException | RuntimeException e) {
                log.error("script file {} cannot be read and is not imported: {}", p, e.toString());
            }
        }
        for (Path p : offsetFiles) {
            String file = p.getFileName().toString();
            try {
                JsonNode n = Json.MAPPER.readTree(p.toFile());
                Offsets o = new Offsets(n.path("raw").asLong(), n.path("processed").asLong());
                writes.add(new StateWrite.Put(OFFSETS, offsetsKey(file.substring(0, file.length() - ".json".length())),
                        offsetsJson(o), StateStore.ANY));
                imported.add(p);
            } catch (IOException | RuntimeException e) {
                log.error("offsets file {} cannot be read and is not imported: {}", p, e.toString());
            }
        }
        if (writes.isEmpty()) {
            return 0;
        }
        state.write(writes);
        for (Path p : imported) {
            try {
                Files.move(p, p.resolveSibling(p.getFileName() + IMPORTED));
            } catch (IOException e) {
                log.warn("imported {} but cannot rename it {}: {}", p, IMPORTED, e.toString());
            }
        }
        log.info("imported {} scripts and {} offsets from {} into the state store; the files are renamed *{}",
                count, imported.size() - count, dir, IMPORTED);
        return count;
    }

    private static List<Path> jsonFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Reads a script in the shape older servers' files had, which the records keep. */
    private static Stored read(JsonNode n) throws IOException {
        Language language = Language.parse(n.path("language").asText())
                .orElseThrow(() -> new IOException("unknown language '" + n.path("language").asText() + "'"));
        byte[] code = language == Language.WASM
                ? Base64.getDecoder().decode(n.path("source").asText())
                : n.path("source").asText().getBytes(StandardCharsets.UTF_8);
        List<RoutingPattern> bind = new ArrayList<>();
        for (JsonNode b : n.path("bind")) {
            bind.add(RoutingPattern.of(b.asText()));
        }
        Principal owner = n.has("owner")
                ? new Principal(n.path("owner").asText(), Role.parse(n.path("ownerRole").asText()).orElse(Role.USER))
                : ScriptSource.NO_OWNER;
        ScriptSource source = new ScriptSource(n.path("name").asText(), language, code, bind, n.path("origin").asText("api"), owner);
        return new Stored(source, n.path("version").asLong(1), n.path("stored").asLong(0));
    }

    private static String write(Stored s) {
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
        return Json.write(n);
    }
}
