package io.junction.engine;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

class OutputIdsTest {

    @Test
    void idsAreRepeatableDistinctPerScopeAndShapedLikeVersion7() {
        OutputIds live = new OutputIds("live:a");
        assertThat(live.id(1_700_000_000_000L, 42, 0)).isEqualTo(new OutputIds("live:a").id(1_700_000_000_000L, 42, 0));
        assertThat(live.id(1_700_000_000_000L, 42, 0)).isNotEqualTo(new OutputIds("replay:a").id(1_700_000_000_000L, 42, 0));
        Set<String> ids = new HashSet<>();
        for (long offset = 0; offset < 20_000; offset++) {
            for (int i = 0; i < 3; i++) {
                ids.add(live.id(1_700_000_000_000L, offset, i));
            }
        }
        assertThat(ids).hasSize(60_000);
        UUID u = UUID.fromString(live.id(1_700_000_000_000L, 1, 0));
        assertThat(u.version()).isEqualTo(7);
        assertThat(u.variant()).isEqualTo(2);
        assertThat(u.getMostSignificantBits() >>> 16).isEqualTo(1_700_000_000_000L);
    }
}
