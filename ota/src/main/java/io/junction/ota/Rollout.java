package io.junction.ota;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A package assigned to a set of devices, in stages, with the state of every device it has reached. Owned by the
 * {@link Rollouts} actor: only its thread touches it.
 */
final class Rollout {

    /** Where a device stands in a rollout. */
    enum DeviceState {
        /** assigned, not offered yet (not connected, not asked, or its stage has not started) */
        PENDING,
        /** the offer went out; no download seen yet */
        OFFERED,
        /** bytes are being fetched (MQTT chunks, HTTP with ?device=, or progress reports) */
        DOWNLOADING,
        /** the device reported done, or already runs the package's version */
        INSTALLED,
        /** the device reported failed, or an offer or a download timed out */
        FAILED,
        /** the device runs a newer version and the rollout is not a rollback */
        SKIPPED;

        boolean intermediate() {
            return this == OFFERED || this == DOWNLOADING;
        }

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    enum Status { ACTIVE, PAUSED, CANCELLED }

    enum TargetKind { DEVICES, GROUP, PATTERN }

    /** Which devices: a list of uids, a group (its members now and later), or a glob pattern over uids. */
    record Target(TargetKind kind, List<String> devices, String value) {
        Target {
            devices = List.copyOf(devices);
        }

        ObjectNode toJson() {
            ObjectNode n = Json.object();
            switch (kind) {
                case DEVICES -> {
                    ArrayNode a = n.putArray("devices");
                    devices.forEach(a::add);
                }
                case GROUP -> n.put("group", value);
                case PATTERN -> n.put("pattern", value);
            }
            return n;
        }
    }

    /** One device in the rollout. */
    static final class Entry {
        final String uid;
        /** its place in the rollout: the order devices were added in, kept across restarts */
        final int seq;
        /** 0-based index of the stage the device belongs to */
        final int stage;
        DeviceState state = DeviceState.PENDING;
        String reason = "";
        int attempts;
        long bytes;
        long updatedAt;
        /** last offer, chunk or progress: what the timeouts count from */
        long activityAt;
        /** when the actor's time-out timer for it fires (epoch ms), 0 when none is set; not stored */
        long timerAt;

        Entry(String uid, int seq, int stage, long now) {
            this.uid = uid;
            this.seq = seq;
            this.stage = stage;
            this.updatedAt = now;
            this.activityAt = now;
        }
    }

    final String id;
    final String packageId;
    final PackageVersion version;
    final Target target;
    /** cumulative percentages, strictly increasing, the last one 100 */
    final int[] stages;
    final boolean rollback;
    final boolean autoAdvance;
    /** the group whose link made it, or empty */
    final String linkedGroup;
    final long createdAt;
    /** its place among the rollouts: creation order, kept across restarts */
    final long seq;
    int stage;
    Status status = Status.ACTIVE;
    long updatedAt;
    final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    Rollout(String id, String packageId, PackageVersion version, Target target, int[] stages, boolean rollback,
            boolean autoAdvance, String linkedGroup, long createdAt, long seq) {
        this.id = id;
        this.packageId = packageId;
        this.version = version;
        this.target = target;
        this.stages = stages.clone();
        this.rollback = rollback;
        this.autoAdvance = autoAdvance;
        this.linkedGroup = linkedGroup;
        this.createdAt = createdAt;
        this.updatedAt = createdAt;
        this.seq = seq;
    }

    /**
     * Adds the devices known when the rollout starts. Their order is a hash of rollout id and uid, so each stage is
     * a fair sample; stage i takes the first ceil(n × percent_i / 100) of them.
     */
    void addKnown(List<String> uids, long now) {
        Map<String, Long> hashes = new LinkedHashMap<>();
        for (String u : uids) {
            if (!entries.containsKey(u)) {
                hashes.computeIfAbsent(u, this::hash);
            }
        }
        List<String> sorted = new ArrayList<>(hashes.keySet());
        sorted.sort(Comparator.comparingLong((String u) -> hashes.get(u)).thenComparing(u -> u));
        int n = sorted.size();
        for (int rank = 0; rank < n; rank++) {
            int s = 0;
            while (s < stages.length - 1 && rank >= (int) Math.ceil(n * stages[s] / 100.0)) {
                s++;
            }
            String uid = sorted.get(rank);
            entries.put(uid, new Entry(uid, entries.size(), s, now));
        }
    }

    /** Adds a device met later (a pattern match, a new group member): its stage comes from its hash bucket 0–99. */
    Entry join(String uid, long now) {
        Entry e = entries.get(uid);
        if (e == null) {
            int bucket = (int) Math.floorMod(hash(uid), 100L);
            int s = 0;
            while (s < stages.length - 1 && bucket >= stages[s]) {
                s++;
            }
            e = new Entry(uid, entries.size(), s, now);
            entries.put(uid, e);
        }
        return e;
    }

    boolean eligible(Entry e) {
        return status == Status.ACTIVE && e.stage <= stage;
    }

    private long hash(String uid) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((id + ":" + uid).getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (d[i] & 0xFF);
            }
            return h;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Map<DeviceState, Integer> counts() {
        Map<DeviceState, Integer> c = new EnumMap<>(DeviceState.class);
        for (DeviceState s : DeviceState.values()) {
            c.put(s, 0);
        }
        for (Entry e : entries.values()) {
            c.merge(e.state, 1, Integer::sum);
        }
        return c;
    }

    /** The summary the API lists; with {@code devices}, every device's state too. */
    ObjectNode toJson(Optional<OtaPackage> pkg, boolean devices) {
        ObjectNode n = Json.object();
        n.put("id", id);
        ObjectNode p = n.putObject("package");
        p.put("id", packageId);
        p.put("version", version.toString());
        pkg.ifPresent(x -> p.put("target", x.target()));
        if (pkg.isEmpty()) {
            p.put("deleted", true);
        }
        n.set("target", target.toJson());
        ArrayNode st = n.putArray("stages");
        for (int s : stages) {
            st.add(s);
        }
        n.put("stage", stage + 1);
        n.put("status", status.name().toLowerCase(Locale.ROOT));
        n.put("rollback", rollback);
        n.put("advance", autoAdvance ? "auto" : "manual");
        if (!linkedGroup.isEmpty()) {
            n.put("linkedGroup", linkedGroup);
        }
        n.put("createdAt", Instant.ofEpochMilli(createdAt).toString());
        n.put("updatedAt", Instant.ofEpochMilli(updatedAt).toString());
        ObjectNode counts = n.putObject("counts");
        counts.put("total", entries.size());
        counts().forEach((s, c) -> counts.put(s.word(), c));
        if (devices) {
            ArrayNode a = n.putArray("devices");
            for (Entry e : entries.values()) {
                a.add(entryJson(e));
            }
        }
        return n;
    }

    ObjectNode entryJson(Entry e) {
        ObjectNode d = Json.object();
        d.put("uid", e.uid);
        d.put("stage", e.stage + 1);
        d.put("state", e.state.word());
        if (!e.reason.isEmpty()) {
            d.put("reason", e.reason);
        }
        d.put("attempts", e.attempts);
        d.put("bytes", e.bytes);
        d.put("updatedAt", Instant.ofEpochMilli(e.updatedAt).toString());
        return d;
    }

    // ---- how the state port stores it (OtaState): the rollout, and each device's entry in a record of its own ----

    /** The rollout without its devices, under {@code ota.rollouts/<id>}. */
    record Doc(long seq, String id, String packageId, String version, TargetKind targetKind, List<String> targetDevices,
               String targetValue, int[] stages, boolean rollback, boolean autoAdvance, String linkedGroup,
               long createdAt, int stage, String status, long updatedAt) {
    }

    /** One device's entry, under {@code ota.entries/<rollout id>/<uid>}. */
    record EntryDoc(int seq, String uid, int stage, String state, String reason, int attempts, long bytes, long updatedAt,
                    long activityAt) {
    }

    Doc doc() {
        return new Doc(seq, id, packageId, version.toString(), target.kind(), target.devices(), target.value(), stages,
                rollback, autoAdvance, linkedGroup, createdAt, stage, status.name(), updatedAt);
    }

    static EntryDoc entryDoc(Entry e) {
        return new EntryDoc(e.seq, e.uid, e.stage, e.state.name(), e.reason, e.attempts, e.bytes, e.updatedAt, e.activityAt);
    }

    /** The rollout of {@code d} with {@code entries} (in any order: they are put back in their {@code seq} order). */
    static Rollout fromDoc(Doc d, List<EntryDoc> entries) {
        Rollout r = new Rollout(d.id(), d.packageId(), PackageVersion.parse(d.version()),
                new Target(d.targetKind(), d.targetDevices() == null ? List.of() : d.targetDevices(),
                        d.targetValue() == null ? "" : d.targetValue()),
                d.stages(), d.rollback(), d.autoAdvance(), d.linkedGroup() == null ? "" : d.linkedGroup(), d.createdAt(),
                d.seq());
        r.stage = d.stage();
        r.status = Status.valueOf(d.status());
        r.updatedAt = d.updatedAt();
        List<EntryDoc> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingInt(EntryDoc::seq));
        for (EntryDoc x : sorted) {
            Entry e = new Entry(x.uid(), r.entries.size(), x.stage(), x.updatedAt());
            e.state = DeviceState.valueOf(x.state());
            e.reason = x.reason() == null ? "" : x.reason();
            e.attempts = x.attempts();
            e.bytes = x.bytes();
            e.activityAt = x.activityAt();
            r.entries.put(e.uid, e);
        }
        return r;
    }
}
