package io.junction.core.device;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IdsTest {

    @Test
    void validIdsAreKeptAsGiven() {
        assertThat(ModuleId.of("display-1").value()).isEqualTo("display-1");
        assertThat(SystemId.of("room_101").toString()).isEqualTo("room_101");
        assertThat(DeviceUid.of("mesh/b5ea3f/42").value()).isEqualTo("mesh/b5ea3f/42");
    }

    @Test
    void badIdsAreRefusedWithASentence() {
        assertThatThrownBy(() -> ModuleId.of("a b")).hasMessageContaining("module id must be").hasMessageContaining("'a b'");
        assertThatThrownBy(() -> SystemId.of("")).hasMessageContaining("system id must be");
        assertThatThrownBy(() -> DeviceUid.of("#")).hasMessageContaining("'+', '#'");
        assertThatThrownBy(() -> DeviceUid.of("+")).hasMessageContaining("'+', '#'");
        assertThatThrownBy(() -> DeviceUid.of("")).hasMessageContaining("must not be empty");
        assertThatThrownBy(() -> DeviceUid.of("a\nb")).hasMessageContaining("control characters");
        assertThat(DeviceUid.isValid("dev42")).isTrue();
    }
}
