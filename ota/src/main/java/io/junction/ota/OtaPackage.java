package io.junction.ota;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A firmware image as the catalogue knows it. The image bytes live in a file of their own in the data directory.
 *
 * @param id        short and stable; devices send it back when they ask for bytes
 * @param target    the hardware model or device group it is built for
 * @param sha256    the checksum of the image, lower-case hex
 * @param signature the Ed25519 signature over the 32 bytes of the checksum, base64; empty when no key is configured
 * @param createdAt when it was uploaded, epoch milliseconds
 */
public record OtaPackage(String id, PackageVersion version, String target, String notes, long size, String sha256,
                         Optional<String> signature, long createdAt) {

    public OtaPackage {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(notes, "notes");
        Objects.requireNonNull(sha256, "sha256");
        Objects.requireNonNull(signature, "signature");
    }

    /** What the API shows: {@code {"id", "version", "target", "notes", "size", "sha256", "signature"?, "createdAt"}}. */
    ObjectNode toJson() {
        ObjectNode n = Json.object();
        n.put("id", id);
        n.put("version", version.toString());
        n.put("target", target);
        n.put("notes", notes);
        n.put("size", size);
        n.put("sha256", sha256);
        signature.ifPresent(s -> n.put("signature", s));
        n.put("createdAt", Instant.ofEpochMilli(createdAt).toString());
        return n;
    }

    /** How the state port stores it, under {@code ota.packages/<id>}; {@code seq} keeps the upload order. */
    record Doc(long seq, String id, String version, String target, String notes, long size, String sha256,
               Optional<String> signature, long createdAt) {

        static Doc of(OtaPackage p, long seq) {
            return new Doc(seq, p.id, p.version.toString(), p.target, p.notes, p.size, p.sha256, p.signature, p.createdAt);
        }

        OtaPackage toPackage() {
            return new OtaPackage(id, PackageVersion.parse(version), target, notes == null ? "" : notes, size, sha256,
                    signature == null ? Optional.empty() : signature, createdAt);
        }
    }
}
