package io.junction.ota;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;

import java.time.Instant;
import java.util.Optional;

/** What the OTA service knows of one device: the firmware it runs and how it talks. Owned by the actor. */
final class DeviceRecord {

    final String uid;
    /** the version the device last said it runs, or that it installed */
    Optional<PackageVersion> version = Optional.empty();
    long versionAt;
    /** the encoding of its last request: offers pushed on connect use it */
    DeviceProtocol.Encoding encoding = DeviceProtocol.Encoding.JSON;
    long seenAt;

    DeviceRecord(String uid) {
        this.uid = uid;
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

    record Stored(String uid, Optional<String> version, long versionAt, DeviceProtocol.Encoding encoding, long seenAt) {
    }

    Stored store() {
        return new Stored(uid, version.map(PackageVersion::toString), versionAt, encoding, seenAt);
    }

    static DeviceRecord restore(Stored s) {
        DeviceRecord d = new DeviceRecord(s.uid());
        if (s.version() != null && s.version().isPresent()) {
            d.version = Optional.of(PackageVersion.parse(s.version().get()));
        }
        d.versionAt = s.versionAt();
        d.encoding = s.encoding() == null ? DeviceProtocol.Encoding.JSON : s.encoding();
        d.seenAt = s.seenAt();
        return d;
    }
}
