package io.junction.ota;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;

import java.time.Instant;
import java.util.Optional;

/** What the OTA service knows of one device: the firmware it runs and how it talks. Owned by the actor. */
final class DeviceRecord {

    final String uid;
    /** the order the service met devices in, kept across restarts */
    final long seq;
    /** the version the device last said it runs, or that it installed */
    Optional<PackageVersion> version = Optional.empty();
    long versionAt;
    /** the encoding of its last request: offers pushed on connect use it */
    DeviceProtocol.Encoding encoding = DeviceProtocol.Encoding.JSON;
    long seenAt;

    DeviceRecord(String uid, long seq) {
        this.uid = uid;
        this.seq = seq;
    }

    void version(PackageVersion v, long now) {
        version = Optional.of(v);
        versionAt = now;
    }

    ObjectNode toJson() {
        ObjectNode n = Json.object();
        n.put("uid", uid);
        if (version.isPresent()) {
            n.put("firmwareVersion", version.get().toString());
            n.put("versionAt", Instant.ofEpochMilli(versionAt).toString());
        } else {
            n.putNull("firmwareVersion");
        }
        n.put("encoding", encoding.name().toLowerCase(java.util.Locale.ROOT));
        if (seenAt > 0) {
            n.put("seenAt", Instant.ofEpochMilli(seenAt).toString());
        }
        return n;
    }

    /** How it is stored: under {@code ota.devices/<uid>} in the state port (and so it was in the old state file). */
    record Doc(String uid, Optional<String> version, long versionAt, DeviceProtocol.Encoding encoding, long seenAt, long seq) {
    }

    Doc doc() {
        return new Doc(uid, version.map(PackageVersion::toString), versionAt, encoding, seenAt, seq);
    }

    /** The device of {@code s}; {@code seq} replaces what it says (the old state file had no seq). */
    static DeviceRecord fromDoc(Doc s, long seq) {
        DeviceRecord d = new DeviceRecord(s.uid(), seq);
        if (s.version() != null && s.version().isPresent()) {
            d.version = Optional.of(PackageVersion.parse(s.version().get()));
        }
        d.versionAt = s.versionAt();
        d.encoding = s.encoding() == null ? DeviceProtocol.Encoding.JSON : s.encoding();
        d.seenAt = s.seenAt();
        return d;
    }
}
