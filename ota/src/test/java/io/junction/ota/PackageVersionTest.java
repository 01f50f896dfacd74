package io.junction.ota;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PackageVersionTest {

    @Test
    void versionsCompareNumericallyNotAsText() {
        assertThat(PackageVersion.parse("1.10.0")).isGreaterThan(PackageVersion.parse("1.9.9"));
        assertThat(PackageVersion.parse("2.0.0")).isGreaterThan(PackageVersion.parse("1.99.99"));
        assertThat(PackageVersion.parse("1.2.3+10")).isGreaterThan(PackageVersion.parse("1.2.3+9"));
        assertThat(PackageVersion.parse("1.2.3+1")).isGreaterThan(PackageVersion.parse("1.2.3"));
        assertThat(PackageVersion.parse("v1.2.3").compareTo(PackageVersion.parse("1.2.3"))).isZero();
    }

    @Test
    void theBuildIdIsKeptAndPrinted() {
        PackageVersion v = PackageVersion.parse("1.2.3+a1b2c3d");
        assertThat(v.build()).contains("a1b2c3d");
        assertThat(v.toString()).isEqualTo("1.2.3+a1b2c3d");
    }

    @Test
    void malformedVersionsAreRefusedWithWhatIsExpected() {
        assertThatThrownBy(() -> PackageVersion.parse("1.2")).hasMessageContaining("major.minor.patch");
        assertThatThrownBy(() -> PackageVersion.parse("1.2.x")).hasMessageContaining("whole number");
        assertThatThrownBy(() -> PackageVersion.parse("1.2.3+")).hasMessageContaining("build id");
        assertThatThrownBy(() -> PackageVersion.parse("")).hasMessageContaining("empty");
    }
}
