package io.junction.ota;

import io.junction.core.Json;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The file OTA kept its state in before the state port, {@code <data>/ota/state.json}: read once, on the first start
 * with the state port, to import it ({@link OtaState#load}). Its records are the old format, field for field.
 */
final class LegacyStateFile {

    private LegacyStateFile() {
    }

    record Snapshot(int format, long offset, List<StoredPackage> packages, Map<String, List<String>> groups,
                    List<StoredRollout> rollouts, List<DeviceRecord.Doc> devices) {
    }

    record StoredPackage(String id, String version, String target, String notes, long size, String sha256,
                         Optional<String> signature, long createdAt) {
    }

    record StoredEntry(String uid, int stage, String state, String reason, int attempts, long bytes, long updatedAt,
                       long activityAt) {
    }

    record StoredRollout(String id, String packageId, String version, Rollout.TargetKind targetKind, List<String> targetDevices,
                         String targetValue, int[] stages, boolean rollback, boolean autoAdvance, String linkedGroup,
                         long createdAt, int stage, String status, long updatedAt, List<StoredEntry> entries) {
    }

    /** What the file holds, in the shape the state port keeps; the order of its lists is kept. */
    static OtaState.Loaded read(Path file) throws IOException {
        Snapshot s;
        try {
            s = Json.MAPPER.readValue(file.toFile(), Snapshot.class);
        } catch (IOException e) {
            throw unreadable(file, e);
        }
        try {
            return convert(s);
        } catch (RuntimeException e) {
            throw unreadable(file, e);
        }
    }

    private static IOException unreadable(Path file, Exception e) {
        return new IOException("the old OTA state file " + file + " cannot be read (" + e.getMessage()
                + "); restore it from a backup, or move it away to start without its packages and rollouts", e);
    }

    private static OtaState.Loaded convert(Snapshot s) {
        List<OtaPackage.Doc> packages = new ArrayList<>();
        for (StoredPackage p : nonNull(s.packages())) {
            packages.add(new OtaPackage.Doc(packages.size(), p.id(), p.version(), p.target(), p.notes(), p.size(), p.sha256(),
                    p.signature(), p.createdAt()));
        }
        List<Rollout> rollouts = new ArrayList<>();
        for (StoredRollout r : nonNull(s.rollouts())) {
            List<Rollout.EntryDoc> entries = new ArrayList<>();
            for (StoredEntry e : nonNull(r.entries())) {
                entries.add(new Rollout.EntryDoc(entries.size(), e.uid(), e.stage(), e.state(), e.reason(), e.attempts(),
                        e.bytes(), e.updatedAt(), e.activityAt()));
            }
            // Packages take seq 0..n-1; rollouts follow them, as they would have been numbered when made.
            rollouts.add(Rollout.fromDoc(new Rollout.Doc(packages.size() + rollouts.size(), r.id(), r.packageId(), r.version(),
                    r.targetKind(), r.targetDevices(), r.targetValue(), r.stages(), r.rollback(), r.autoAdvance(),
                    r.linkedGroup(), r.createdAt(), r.stage(), r.status(), r.updatedAt()), entries));
        }
        List<DeviceRecord> devices = new ArrayList<>();
        for (DeviceRecord.Doc d : nonNull(s.devices())) {
            devices.add(DeviceRecord.fromDoc(d, devices.size()));
        }
        Map<String, List<String>> groups = s.groups() == null ? Map.of() : new LinkedHashMap<>(s.groups());
        return new OtaState.Loaded(packages, groups, rollouts, devices, Optional.of(s.offset()));
    }

    private static <T> List<T> nonNull(List<T> l) {
        return l == null ? List.of() : l;
    }
}
