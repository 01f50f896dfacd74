package io.junction.ota;

import io.junction.core.config.Section;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Firmware packages and rollouts ({@code [ota]}).
 *
 * @param maxImageBytes          the largest image an upload may carry
 * @param signingKey             a PEM file (PKCS#8) with the Ed25519 private key that signs each package's checksum
 * @param signingKeyEnv          the name of an environment variable holding that PEM text instead (read at start-up)
 * @param offerTimeoutSeconds    an offered device that starts no download in this long is moved to {@code failed}
 * @param downloadTimeoutSeconds a downloading device silent for this long is moved to {@code failed}
 * @param chunkBytes             the most image bytes in one download chunk over MQTT
 * @param maxAttempts            offers one device gets for one rollout; a failed device that checks again is
 *                               offered again until then
 * @param publicUrl              the base of the download URL put in offers ({@code http://host:port}); empty: the
 *                               URL is the path alone
 * @param imageCacheBytes        image bytes kept in memory for downloads
 * @param groups                 device groups: name → device uids, or glob patterns with {@code *}
 */
public record OtaSettings(long maxImageBytes, Optional<Path> signingKey, Optional<String> signingKeyEnv,
                          int offerTimeoutSeconds, int downloadTimeoutSeconds, int chunkBytes, int maxAttempts,
                          String publicUrl, long imageCacheBytes, Map<String, List<String>> groups) {

    public OtaSettings {
        groups = Map.copyOf(groups);
    }

    public static OtaSettings defaults() {
        return new OtaSettings(16L * 1024 * 1024, Optional.empty(), Optional.empty(), 600, 900, 4096, 3, "",
                64L * 1024 * 1024, Map.of());
    }

    /** Reads {@code [ota]} from the root table; an absent section means the defaults. */
    public static OtaSettings read(Section root) {
        Section s = root.table("ota");
        OtaSettings d = defaults();
        long maxImage = s.integer("max_image_bytes", d.maxImageBytes(), 1, 2L * 1024 * 1024 * 1024 - 1);
        Optional<String> key = s.optionalString("signing_key");
        Optional<String> keyEnv = s.optionalString("signing_key_env");
        if (key.isPresent() && keyEnv.isPresent()) {
            throw s.error("signing_key_env", "give either signing_key (a PEM file) or signing_key_env (an environment "
                    + "variable holding the PEM text), not both");
        }
        if (key.isPresent() && key.get().isBlank()) {
            throw s.error("signing_key", "expected the path of a PEM file with an Ed25519 private key");
        }
        if (keyEnv.isPresent() && !keyEnv.get().matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw s.error("signing_key_env", "expected the name of an environment variable, such as \"JUNCTION_OTA_KEY\"");
        }
        int offer = (int) s.integer("offer_timeout_seconds", d.offerTimeoutSeconds(), 1, 30L * 86_400);
        int download = (int) s.integer("download_timeout_seconds", d.downloadTimeoutSeconds(), 1, 30L * 86_400);
        int chunk = (int) s.integer("chunk_bytes", d.chunkBytes(), 16, 1024 * 1024);
        int attempts = (int) s.integer("max_attempts", d.maxAttempts(), 1, 1000);
        String publicUrl = s.string("public_url", d.publicUrl());
        if (!publicUrl.isEmpty() && !publicUrl.matches("https?://[^\\s/?#]+(/[^\\s?#]*)?")) {
            throw s.error("public_url", "expected a URL such as \"http://junction.example:8080\" (or \"\" for paths alone)");
        }
        if (publicUrl.endsWith("/")) {
            publicUrl = publicUrl.substring(0, publicUrl.length() - 1);
        }
        long cache = s.integer("image_cache_bytes", d.imageCacheBytes(), 0, 64L * 1024 * 1024 * 1024);
        Section g = s.table("groups");
        Map<String, List<String>> groups = new LinkedHashMap<>();
        for (String name : g.keys()) {
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
                throw g.error(name, "a group name is letters, digits, '.', '_' and '-' (at most 128)");
            }
            List<String> members = new ArrayList<>();
            for (String m : g.stringList(name, List.of())) {
                if (m.isEmpty() || m.length() > 256 || m.indexOf('/') >= 0 || m.indexOf('+') >= 0 || m.indexOf('#') >= 0
                        || m.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
                    throw g.error(name, "\"" + m + "\" is not a device uid or pattern: use the uid (no '/', '+', '#' "
                            + "or spaces), or a pattern with '*' such as \"sensor-*\"");
                }
                members.add(m);
            }
            groups.put(name, List.copyOf(members));
        }
        g.finish();
        s.finish();
        return new OtaSettings(maxImage, key.map(Path::of), keyEnv, offer, download, chunk, attempts, publicUrl, cache, groups);
    }
}
