package io.junction.ota;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * Signs package checksums with an Ed25519 private key (the JDK's own provider), so that devices holding the public
 * key can tell an image came from this server. What is signed is the 32 raw bytes of the SHA-256 of the image.
 */
public final class Signer {

    private final PrivateKey key;
    private final PublicKey publicKey;

    private Signer(PrivateKey key, PublicKey publicKey) {
        this.key = key;
        this.publicKey = publicKey;
    }

    /**
     * Reads a PKCS#8 PEM private key ({@code -----BEGIN PRIVATE KEY-----}, as {@code openssl genpkey -algorithm
     * ed25519} writes it). {@code where} names its source in the error.
     */
    public static Signer fromPem(String pem, String where) {
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int b = pem.indexOf(begin);
        int e = pem.indexOf(end);
        if (b < 0 || e < b) {
            throw new IllegalArgumentException(where + " holds no PKCS#8 private key ('" + begin + "'); make one with "
                    + "'openssl genpkey -algorithm ed25519 -out ota-key.pem'");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
        } catch (IllegalArgumentException x) {
            throw new IllegalArgumentException(where + ": the PEM body is not base64: " + x.getMessage());
        }
        try {
            PrivateKey k = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
            return new Signer(k, publicKeyOf(k));
        } catch (GeneralSecurityException | ClassCastException x) {
            throw new IllegalArgumentException(where + " is not an Ed25519 private key: " + x.getMessage());
        }
    }

    /**
     * Derives the public key: the JDK has no call for it, but its Ed25519 key-pair generator takes the private key's
     * 32 seed bytes from the random source it is given, so feeding it the seed yields this key's pair.
     */
    private static PublicKey publicKeyOf(PrivateKey k) throws GeneralSecurityException {
        byte[] seed = ((EdECPrivateKey) k).getBytes().orElseThrow(() -> new GeneralSecurityException("the private key has no seed"));
        SecureRandom fixed = new SecureRandom() {
            @Override
            public void nextBytes(byte[] bytes) {
                System.arraycopy(seed, 0, bytes, 0, Math.min(seed.length, bytes.length));
            }
        };
        KeyPairGenerator g = KeyPairGenerator.getInstance("Ed25519");
        g.initialize(NamedParameterSpec.ED25519, fixed);
        KeyPair pair = g.generateKeyPair();
        byte[] derived = ((EdECPrivateKey) pair.getPrivate()).getBytes().orElse(new byte[0]);
        if (!java.util.Arrays.equals(derived, seed)) {
            throw new GeneralSecurityException("the public key cannot be derived from this private key");
        }
        return pair.getPublic();
    }

    /** The Ed25519 signature over {@code digest}. */
    public byte[] sign(byte[] digest) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(key);
            s.update(digest);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed: " + e.getMessage(), e);
        }
    }

    /** The public key as X.509 SubjectPublicKeyInfo DER (what {@code -----BEGIN PUBLIC KEY-----} holds). */
    public byte[] publicKeyDer() {
        return publicKey.getEncoded();
    }

    public PublicKey publicKey() {
        return publicKey;
    }
}
