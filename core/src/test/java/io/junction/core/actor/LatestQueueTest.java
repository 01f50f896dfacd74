package io.junction.core.actor;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LatestQueueTest {

    @Test
    void aFullQueueDropsTheOldestAndCountsIt() throws Exception {
        LatestQueue<Integer> q = new LatestQueue<>(3);
        for (int i = 1; i <= 5; i++) {
            q.push(i);
        }
        List<Integer> got = new ArrayList<>();
        long dropped = q.drainTo(got, 10, 0);
        assertThat(got).containsExactly(3, 4, 5);
        assertThat(dropped).isEqualTo(2);
        assertThat(q.dropped()).isEqualTo(2);
        q.push(6);
        got.clear();
        assertThat(q.drainTo(got, 10, 0)).isZero();
        assertThat(got).containsExactly(6);
    }

    @Test
    void closedAndEmptyTellsTheConsumerToStop() throws Exception {
        LatestQueue<Integer> q = new LatestQueue<>(2);
        q.close();
        assertThat(q.push(1)).isFalse();
        assertThat(q.drainTo(new ArrayList<>(), 10, 1000)).isEqualTo(-1);
    }
}
