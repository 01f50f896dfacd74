package io.junction.ota;

import com.fasterxml.jackson.core.JsonProcessingException;

import io.junction.core.Json;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * OTA's state in the state port, one record per thing so that a device's report rewrites only what it changed:
 * {@code ota.packages/<id>} (metadata; the image bytes stay files in the data directory), {@code ota.groups/<name>}
 * (groups made over the API), {@code ota.rollouts/<id>}, {@code ota.entries/<rollout id>/<uid>} (a device's state in a
 * rollout), {@code ota.devices/<uid>} (firmware version and encoding) and {@code ota.offsets/raw} (the raw-stream
 * offset all of it covers). The {@link Rollouts} actor writes them in atomic batches. On the first start with the
 * state port the old {@code state.json} is imported once and renamed {@code state.json.imported}.
 */
final class OtaState {

    private static final Logger log = LoggerFactory.getLogger(OtaState.class);

    static final String PACKAGES = "ota.packages";
    static final String GROUPS = "ota.groups";
    static final String ROLLOUTS = "ota.rollouts";
    static final String ENTRIES = "ota.entries";
    static final String DEVICES = "ota.devices";
    static final String OFFSETS = "ota.offsets";
    private static final String RAW = "raw";
    /** in the order the emptiness check looks at them: the small ones first, and the offset is written first of all */
    private static final List<String> COLLECTIONS = List.of(OFFSETS, PACKAGES, GROUPS, ROLLOUTS, DEVICES, ENTRIES);

    /** A group made over the API. */
    record GroupDoc(List<String> devices) {
    }

    /** The raw-stream offset the rest covers: the first request not applied yet. */
    record OffsetDoc(long next) {
    }

    /**
     * Everything OTA keeps, as read at start, each list in its {@code seq} order.
     *
     * @param offset the raw-stream offset it covers; empty when nothing was ever recorded
     */
    record Loaded(List<OtaPackage.Doc> packages, Map<String, List<String>> groups, List<Rollout> rollouts,
                  List<DeviceRecord> devices, Optional<Long> offset) {
    }

    private final StateStore state;

    OtaState(StateStore state) {
        this.state = state;
    }

    /**
     * Reads OTA's state. When the state port holds none yet and {@code legacyFile} exists, imports that file first,
     * in one atomic batch, and renames it {@code state.json.imported}.
     */
    Loaded load(Path legacyFile) throws IOException {
        boolean empty = COLLECTIONS.stream().allMatch(c -> state.list(c).isEmpty());
        if (empty && Files.exists(legacyFile)) {
            Loaded old = LegacyStateFile.read(legacyFile);
            write(everything(old));
            Path done = legacyFile.resolveSibling(legacyFile.getFileName() + ".imported");
            Files.move(legacyFile, done, StandardCopyOption.REPLACE_EXISTING);
            log.info("ota: imported {} into the state store (packages={} groups={} rollouts={} devices={}); the file is now {}",
                    legacyFile, old.packages().size(), old.groups().size(), old.rollouts().size(), old.devices().size(), done);
        } else if (!empty && Files.exists(legacyFile)) {
            log.warn("ota: {} is ignored: the state store holds the OTA state (it was imported before)", legacyFile);
        }
        return read();
    }

    private Loaded read() throws IOException {
        List<OtaPackage.Doc> packageDocs = new ArrayList<>();
        for (StateRecord r : state.list(PACKAGES)) {
            packageDocs.add(parse(r, OtaPackage.Doc.class));
        }
        packageDocs.sort(Comparator.comparingLong(OtaPackage.Doc::seq));

        Map<String, List<String>> groups = new LinkedHashMap<>();
        for (StateRecord r : state.list(GROUPS)) {
            GroupDoc g = parse(r, GroupDoc.class);
            groups.put(r.key(), g.devices() == null ? List.of() : g.devices());
        }

        Map<String, List<Rollout.EntryDoc>> entries = new HashMap<>();
        for (StateRecord r : state.list(ENTRIES)) {
            String rollout = r.key().substring(0, Math.max(0, r.key().indexOf('/')));
            entries.computeIfAbsent(rollout, k -> new ArrayList<>()).add(parse(r, Rollout.EntryDoc.class));
        }
        List<Rollout.Doc> rolloutDocs = new ArrayList<>();
        for (StateRecord r : state.list(ROLLOUTS)) {
            rolloutDocs.add(parse(r, Rollout.Doc.class));
        }
        rolloutDocs.sort(Comparator.comparingLong(Rollout.Doc::seq));
        List<Rollout> rollouts = new ArrayList<>();
        for (Rollout.Doc d : rolloutDocs) {
            rollouts.add(Rollout.fromDoc(d, entries.getOrDefault(d.id(), List.of())));
        }

        List<DeviceRecord> devices = new ArrayList<>();
        for (StateRecord r : state.list(DEVICES)) {
            DeviceRecord.Doc d = parse(r, DeviceRecord.Doc.class);
            devices.add(DeviceRecord.fromDoc(d, d.seq()));
        }
        devices.sort(Comparator.comparingLong(d -> d.seq));

        Optional<Long> offset = Optional.empty();
        Optional<StateRecord> o = state.get(OFFSETS, RAW);
        if (o.isPresent()) {
            offset = Optional.of(parse(o.get(), OffsetDoc.class).next());
        }
        return new Loaded(packageDocs, groups, rollouts, devices, offset);
    }

    private static <T> T parse(StateRecord r, Class<T> type) throws IOException {
        try {
            return Json.MAPPER.readValue(r.json(), type);
        } catch (IOException | RuntimeException e) {
            throw new IOException("the OTA record " + r.collection() + "/" + r.key() + " in the state store cannot be read: "
                    + e.getMessage(), e);
        }
    }

    /** The writes that store all of {@code s}. */
    private static List<StateWrite> everything(Loaded s) {
        List<StateWrite> w = new ArrayList<>();
        for (OtaPackage.Doc p : s.packages()) {
            w.add(put(PACKAGES, p.id(), p));
        }
        s.groups().forEach((name, members) -> w.add(putGroup(name, members)));
        for (Rollout r : s.rollouts()) {
            w.add(putRollout(r));
            for (Rollout.Entry e : r.entries.values()) {
                w.add(putEntry(r, e));
            }
        }
        for (DeviceRecord d : s.devices()) {
            w.add(putDevice(d));
        }
        s.offset().ifPresent(o -> w.add(putOffset(o)));
        return w;
    }

    /** Applies every write or none. */
    void write(List<StateWrite> writes) {
        if (!writes.isEmpty()) {
            state.write(writes);
        }
    }

    static StateWrite putPackage(OtaPackage p, long seq) {
        return put(PACKAGES, p.id(), OtaPackage.Doc.of(p, seq));
    }

    static StateWrite deletePackage(String id) {
        return new StateWrite.Delete(PACKAGES, id, StateStore.ANY);
    }

    static StateWrite putGroup(String name, List<String> members) {
        return put(GROUPS, name, new GroupDoc(members));
    }

    static StateWrite deleteGroup(String name) {
        return new StateWrite.Delete(GROUPS, name, StateStore.ANY);
    }

    static StateWrite putRollout(Rollout r) {
        return put(ROLLOUTS, r.id, r.doc());
    }

    static StateWrite putEntry(Rollout r, Rollout.Entry e) {
        return put(ENTRIES, r.id + "/" + e.uid, Rollout.entryDoc(e));
    }

    static StateWrite putDevice(DeviceRecord d) {
        return put(DEVICES, d.uid, d.doc());
    }

    static StateWrite putOffset(long next) {
        return put(OFFSETS, RAW, new OffsetDoc(next));
    }

    private static StateWrite put(String collection, String key, Object doc) {
        try {
            return new StateWrite.Put(collection, key, Json.MAPPER.writeValueAsString(doc), StateStore.ANY);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + collection + "/" + key, e);
        }
    }
}
