package io.junction.core.device;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModuleRefTest {

    @Test
    void aNameAndItsIndexAreRead() {
        assertThat(ModuleRef.parse("Display_2")).isEqualTo(new ModuleRef("Display", 2));
        assertThat(ModuleRef.parse("Left_Display_10")).isEqualTo(new ModuleRef("Left_Display", 10));
        assertThat(ModuleRef.parse("Display")).isEqualTo(new ModuleRef("Display", 1));
        assertThat(ModuleRef.parse("Display_x")).isEqualTo(new ModuleRef("Display_x", 1));
    }

    @Test
    void anIndexBelowOneOrTooLargeIsRefusedWithTheReason() {
        assertThatThrownBy(() -> ModuleRef.parse("Display_0")).hasMessageContaining("must be from 1");
        assertThatThrownBy(() -> ModuleRef.parse("Display_99999999999")).hasMessageContaining("must be from 1");
        assertThatThrownBy(() -> ModuleRef.parse("")).hasMessageContaining("needs a name");
    }
}
