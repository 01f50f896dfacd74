package io.junction.media.hls;

import io.junction.core.config.Section;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * How {@code /hls} is served ({@code [hls]}): which web pages may play it from another origin (CORS), and which
 * workflows' HLS needs a signed, expiring URL because it must not be public.
 *
 * @param allowedOrigins   origins ({@code https://player.example}) whose pages may fetch HLS; {@code ["*"]} = any
 *                         (the default: HLS is public unless signed), {@code []} = only pages of Junction's own origin
 * @param signingKey       the HMAC-SHA256 key of signed URLs (from {@code signing_key_env}, better than inline
 *                         {@code signing_key}); empty = no URL is signed
 * @param signedWorkflows  workflows whose HLS needs a signed URL; {@code ["*"]} = all (the default once a key is set)
 * @param maxSignedSeconds the longest a URL from {@code GET /api/hls/sign} stays valid
 */
public record HlsSettings(List<String> allowedOrigins, Optional<String> signingKey, List<String> signedWorkflows,
                          long maxSignedSeconds) {

    /** Any origin; nothing signed. */
    public static HlsSettings defaults() {
        return new HlsSettings(List.of("*"), Optional.empty(), List.of(), 86_400);
    }

    public HlsSettings {
        allowedOrigins = List.copyOf(allowedOrigins);
        signedWorkflows = List.copyOf(signedWorkflows);
        if (!signedWorkflows.isEmpty() && signingKey.isEmpty()) {
            throw new IllegalArgumentException("signed workflows need a signing key");
        }
    }

    /** Whether a page of any origin may fetch HLS. */
    public boolean anyOrigin() {
        return allowedOrigins.contains("*");
    }

    /** Whether {@code workflow}'s HLS is served only to signed URLs. */
    public boolean signed(String workflow) {
        return signedWorkflows.contains("*") || signedWorkflows.contains(workflow);
    }

    /** Reads {@code [hls]} ({@code section}); an absent section means the defaults. */
    public static HlsSettings read(Section s) {
        HlsSettings d = defaults();
        List<String> origins = s.stringList("allowed_origins", d.allowedOrigins());
        for (String o : origins) {
            if (o.equals("*") ? origins.size() > 1 : !o.matches("https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\\[[0-9A-Fa-f:.]+](:[0-9]{1,5})?")) {
                throw s.error("allowed_origins", o.equals("*")
                        ? "\"*\" allows every origin: give it alone, or list origins without it"
                        : "expected origins as a browser sends them, such as \"https://player.example\" or "
                        + "\"http://127.0.0.1:8000\" (scheme, host and port; no path, no trailing '/'), or [\"*\"]; got \"" + o + "\"");
            }
        }
        Optional<String> key = s.secret("signing_key");
        if (key.isPresent() && key.get().getBytes(StandardCharsets.UTF_8).length < 16) {
            throw s.error(s.optionalString("signing_key_env").isPresent() ? "signing_key_env" : "signing_key",
                    "the signing key must have at least 16 bytes; make one with 'openssl rand -hex 32'");
        }
        List<String> signed = s.stringList("signed_workflows", key.isPresent() ? List.of("*") : List.of());
        for (String w : signed) {
            if (!w.matches("[A-Za-z0-9_-]{1,64}") && !(w.equals("*") && signed.size() == 1)) {
                throw s.error("signed_workflows", "expected workflow names (1 to 64 letters, digits, '_' or '-'), or [\"*\"] "
                        + "alone for every workflow; got \"" + w + "\"");
            }
        }
        if (!signed.isEmpty() && key.isEmpty()) {
            throw s.error("signed_workflows", "signed URLs need a key: give signing_key_env, the name of an environment "
                    + "variable holding a secret of at least 16 bytes (such as the output of 'openssl rand -hex 32')");
        }
        long max = s.integer("max_signed_seconds", d.maxSignedSeconds(), 1, 366L * 86_400);
        s.finish();
        return new HlsSettings(origins, key, signed, max);
    }

    /** Never shows the key. */
    @Override
    public String toString() {
        return "HlsSettings[allowedOrigins=" + allowedOrigins + ", signingKey=" + (signingKey.isPresent() ? "(set)" : "(none)")
                + ", signedWorkflows=" + signedWorkflows + ", maxSignedSeconds=" + maxSignedSeconds + "]";
    }
}
