package io.junction.core.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PasswordHashTest {

    @Test
    void hashedPasswordVerifiesAndAnotherDoesNot() {
        String stored = PasswordHash.hash("s3cret-pässword".toCharArray());

        assertThat(stored).startsWith("pbkdf2-sha256$" + PasswordHash.DEFAULT_ITERATIONS + "$");
        assertThat(PasswordHash.looksHashed(stored)).isTrue();
        assertThat(PasswordHash.verify("s3cret-pässword".toCharArray(), stored)).isTrue();
        assertThat(PasswordHash.verify("s3cret-password".toCharArray(), stored)).isFalse();
        assertThat(PasswordHash.verify(new char[0], stored)).isFalse();
    }

    @Test
    void sameKeyHashesDifferentlyEachTimeBecauseOfTheSalt() {
        String a = PasswordHash.hash("k".toCharArray(), 1_000);
        String b = PasswordHash.hash("k".toCharArray(), 1_000);

        assertThat(a).isNotEqualTo(b);
        assertThat(PasswordHash.verify("k".toCharArray(), a)).isTrue();
        assertThat(PasswordHash.verify("k".toCharArray(), b)).isTrue();
    }

    @Test
    void storedIterationCountIsHonoured() {
        String stored = PasswordHash.hash("pw".toCharArray(), 1_234);

        assertThat(stored).startsWith("pbkdf2-sha256$1234$");
        assertThat(PasswordHash.verify("pw".toCharArray(), stored)).isTrue();
    }

    @Test
    void utf8BytesFromTheWireVerifyLikeTheTypedPassword() {
        String stored = PasswordHash.hash("grüße".toCharArray(), 1_000);

        char[] fromWire = PasswordHash.utf8Chars("grüße".getBytes(StandardCharsets.UTF_8));

        assertThat(PasswordHash.verify(fromWire, stored)).isTrue();
    }

    @Test
    void malformedStoredHashesAreRejectedWithTheExpectedFormat() {
        String good = PasswordHash.hash("pw".toCharArray(), 1_000);
        String[] parts = good.split("\\$");
        String[] malformed = {
            "plaintext",
            "bcrypt$10$abc$def",
            "pbkdf2-sha256$",
            "pbkdf2-sha256$1000$" + parts[2],
            "pbkdf2-sha256$many$" + parts[2] + "$" + parts[3],
            "pbkdf2-sha256$0$" + parts[2] + "$" + parts[3],
            "pbkdf2-sha256$1000$not*base64$" + parts[3],
            "pbkdf2-sha256$1000$" + parts[2] + "$AAAA",
            good + "$extra",
        };
        for (String stored : malformed) {
            assertThat(PasswordHash.looksHashed(stored)).as(stored).isFalse();
            assertThatThrownBy(() -> PasswordHash.verify("pw".toCharArray(), stored))
                    .as(stored)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>");
        }
        assertThat(PasswordHash.looksHashed(null)).isFalse();
    }

    @Test
    void iterationCountOutOfRangeIsRefusedWhenHashing() {
        assertThatThrownBy(() -> PasswordHash.hash("pw".toCharArray(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("iterations");
    }
}
