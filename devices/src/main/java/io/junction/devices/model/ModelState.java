package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.device.DeviceUid;
import io.junction.core.device.ModuleId;
import io.junction.core.device.SystemId;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.status.ModuleStatusStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device model's records in the state port — collections {@value #MODULES}, {@value #SYSTEMS} and
 * {@value #DRIVERS} (generic drivers defined through the API), one record per id — and the one-time import of the
 * files the model kept before ({@code model.json}, {@code status.json}), which are then renamed {@code *.imported}.
 * Used by the model's actor only.
 */
final class ModelState {

    private static final Logger log = LoggerFactory.getLogger(ModelState.class);

    static final String MODULES = "modules";
    static final String SYSTEMS = "systems";
    static final String DRIVERS = "drivers";

    private final StateStore state;
    /** The creation order of each module and system, kept in its record so a restart lists and starts them alike. */
    private final Map<String, Long> order = new HashMap<>();
    private long nextOrder;

    ModelState(StateStore state) {
        this.state = state;
    }

    /** The stored modules and systems, in the order they were created. */
    record Loaded(List<ModuleSpec> modules, List<SystemSpec> systems) {
    }

    Loaded load() {
        List<ModuleSpec> modules = new ArrayList<>();
        for (JsonNode m : sorted(MODULES)) {
            modules.add(module(m));
        }
        List<SystemSpec> systems = new ArrayList<>();
        for (JsonNode s : sorted(SYSTEMS)) {
            systems.add(system(s));
        }
        return new Loaded(modules, systems);
    }

    /** The definitions of drivers defined through the API, by driver id. */
    List<JsonNode> drivers() {
        List<JsonNode> out = new ArrayList<>();
        for (StateRecord r : state.list(DRIVERS)) {
            out.add(parse(r));
        }
        return out;
    }

    void putDriver(String id, JsonNode definition) {
        state.put(DRIVERS, id, definition.toString());
    }

    void putModule(ModuleSpec m) {
        state.put(MODULES, m.id().value(), moduleJson(m, orderOf("m:" + m.id())).toString());
    }

    void putSystem(SystemSpec s) {
        state.put(SYSTEMS, s.id().value(), systemJson(s, orderOf("s:" + s.id())).toString());
    }

    /** Deletes a module and rewrites the systems it left, in one atomic batch. */
    void deleteModule(ModuleId id, List<SystemSpec> changed) {
        List<StateWrite> writes = new ArrayList<>();
        writes.add(new StateWrite.Delete(MODULES, id.value(), StateStore.ANY));
        for (SystemSpec s : changed) {
            writes.add(new StateWrite.Put(SYSTEMS, s.id().value(), systemJson(s, orderOf("s:" + s.id())).toString(), StateStore.ANY));
        }
        state.write(writes);
        order.remove("m:" + id);
    }

    void deleteSystem(SystemId id) {
        state.delete(SYSTEMS, id.value());
        order.remove("s:" + id);
    }

    /**
     * Imports {@code model.json} (the file the model wrote before it kept its records in the state port) when the
     * state has no module and no system yet, then renames it {@code model.json.imported}. Returns whether it did.
     */
    boolean importModelFile(Path dir) {
        Path file = dir.resolve("model.json");
        if (!Files.exists(file) || !state.list(MODULES).isEmpty() || !state.list(SYSTEMS).isEmpty()) {
            return false;
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("the device model in " + file + " cannot be read: " + e.getMessage()
                    + "; fix or move the file away", e);
        }
        List<StateWrite> writes = new ArrayList<>();
        long n = 0;
        for (JsonNode m : root.path("modules")) {
            ModuleSpec spec = module(m);
            writes.add(new StateWrite.Put(MODULES, spec.id().value(), moduleJson(spec, n++).toString(), StateStore.ABSENT));
        }
        for (JsonNode s : root.path("systems")) {
            SystemSpec spec = system(s);
            writes.add(new StateWrite.Put(SYSTEMS, spec.id().value(), systemJson(spec, n++).toString(), StateStore.ABSENT));
        }
        state.write(writes);
        renameImported(file);
        log.info("device model imported from {} records={}", file, writes.size());
        return true;
    }

    /**
     * Imports {@code status.json} (the module status the model wrote before it moved behind the status port) into
     * {@code status}, then renames it {@code status.json.imported}. Returns how many variables it set.
     */
    static int importStatusFile(Path dir, ModuleStatusStore status) {
        Path file = dir.resolve("status.json");
        if (!Files.exists(file)) {
            return 0;
        }
        int n = 0;
        try {
            JsonNode root = Json.MAPPER.readTree(file.toFile());
            for (Map.Entry<String, JsonNode> m : root.properties()) {
                if (!ModuleId.isValid(m.getKey())) {
                    log.warn("status of module '{}' in {} is not imported: not a module id", m.getKey(), file);
                    continue;
                }
                ModuleId id = ModuleId.of(m.getKey());
                for (Map.Entry<String, JsonNode> v : m.getValue().properties()) {
                    status.set(id, v.getKey(), v.getValue().toString());
                    n++;
                }
            }
        } catch (IOException e) {
            log.warn("module status in {} cannot be read ({}); starting without it", file, e.getMessage());
            return 0;
        }
        status.flush();
        renameImported(file);
        log.info("module status imported from {} variables={}", file, n);
        return n;
    }

    private static void renameImported(Path file) {
        try {
            Files.move(file, file.resolveSibling(file.getFileName() + ".imported"), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rename " + file + " after importing it: " + e.getMessage(), e);
        }
    }

    // --- records

    private List<JsonNode> sorted(String collection) {
        List<JsonNode> records = new ArrayList<>();
        for (StateRecord r : state.list(collection)) {
            records.add(parse(r));
        }
        records.sort(Comparator.comparingLong(n -> n.path("order").asLong(Long.MAX_VALUE)));
        String prefix = collection.equals(MODULES) ? "m:" : "s:";
        for (JsonNode n : records) {
            long o = n.path("order").asLong(nextOrder);
            order.put(prefix + n.path("id").asText(), o);
            nextOrder = Math.max(nextOrder, o + 1);
        }
        return records;
    }

    private long orderOf(String key) {
        return order.computeIfAbsent(key, k -> nextOrder++);
    }

    private static JsonNode parse(StateRecord r) {
        try {
            return Json.parse(r.json());
        } catch (IOException e) {
            throw new IllegalStateException("the state record " + r.collection() + "/" + r.key() + " is not JSON: " + e.getMessage(), e);
        }
    }

    private static ModuleSpec module(JsonNode m) {
        Optional<DeviceUid> device = Optional.empty();
        String uid = m.path("device").asText("");
        if (m.hasNonNull("device") && !uid.isEmpty()) {
            if (DeviceUid.isValid(uid)) {
                device = Optional.of(DeviceUid.of(uid));
            } else {
                log.warn("module {} keeps no device: '{}' is not a device uid", m.path("id").asText(), uid);
            }
        }
        return new ModuleSpec(ModuleId.of(m.path("id").asText()), m.path("name").asText(), m.path("driver").asText(), device,
                m.path("settings").isObject() ? (ObjectNode) m.get("settings") : Json.object(), m.path("running").asBoolean());
    }

    private static SystemSpec system(JsonNode s) {
        List<ModuleId> mods = new ArrayList<>();
        s.path("modules").forEach(n -> mods.add(ModuleId.of(n.asText())));
        return new SystemSpec(SystemId.of(s.path("id").asText()), s.path("name").asText(), mods);
    }

    private static ObjectNode moduleJson(ModuleSpec m, long order) {
        ObjectNode o = Json.object();
        o.put("id", m.id().value()).put("name", m.name()).put("driver", m.driver());
        m.device().ifPresent(d -> o.put("device", d.value()));
        o.set("settings", m.settings());
        o.put("running", m.running()).put("order", order);
        return o;
    }

    private static ObjectNode systemJson(SystemSpec s, long order) {
        ObjectNode o = Json.object();
        o.put("id", s.id().value()).put("name", s.name());
        ArrayNode a = o.putArray("modules");
        s.modules().forEach(id -> a.add(id.value()));
        o.put("order", order);
        return o;
    }
}
