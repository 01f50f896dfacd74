package io.junction.media.hls;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;

/**
 * Signs and checks HLS URLs. A signature covers one stream's folder and an expiry, so the playlist and all its
 * segments share one query ({@code ?expires=...&signature=...}):
 * {@code signature = base64url(HMAC-SHA256(key, expires + "\n" + "/hls/<workflow>/<stream>/"))} without padding,
 * where {@code expires} is in seconds since the epoch. Anyone holding the key can compute it (docs/media.md has the
 * shell recipe); {@code GET /api/hls/sign} does it for a logged-in user.
 */
final class HlsSigner {

    private final SecretKeySpec key;

    HlsSigner(String secret) {
        this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    }

    /** The folder a signature covers, such as {@code /hls/live/cam1/}. */
    static String scope(String workflow, String stream) {
        return "/hls/" + workflow + "/" + stream + "/";
    }

    /** The signature of {@code scope} until {@code expires} (epoch seconds). */
    String sign(String scope, long expires) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(mac(scope, expires));
    }

    /** Whether {@code signature} is the one of {@code scope} and {@code expires}; compared in constant time. */
    boolean verify(String scope, long expires, String signature) {
        byte[] given;
        try {
            given = Base64.getUrlDecoder().decode(signature);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return MessageDigest.isEqual(mac(scope, expires), given);
    }

    private byte[] mac(String scope, long expires) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac.doFinal((expires + "\n" + scope).getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JDK: " + e.getMessage(), e);
        }
    }
}
