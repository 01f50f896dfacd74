package io.junction.core.state;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The behaviour every {@link StateStore} adapter must show, against its real engine: versions, compare-and-set,
 * atomic batches, change events, and records that survive closing and opening again.
 */
public abstract class StateStoreContract {

    protected StateStore store;

    /** A new, empty store. */
    protected abstract StateStore open();

    /** The same store opened again after {@link StateStore#close()}: what was written must be there. */
    protected abstract StateStore reopen();

    @BeforeEach
    void openStore() {
        store = open();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    @Test
    void aFirstWriteGivesVersionOneAndEachWriteAddsOne() {
        StateRecord first = store.put("users", "ada", "{\"role\":\"user\"}", StateStore.ABSENT);
        assertThat(first.version()).isEqualTo(1);
        StateRecord second = store.put("users", "ada", "{\"role\":\"support\"}", 1);
        assertThat(second.version()).isEqualTo(2);
        assertThat(store.get("users", "ada")).map(StateRecord::json).contains("{\"role\":\"support\"}");
        assertThat(store.get("users", "bob")).isEmpty();
    }

    @Test
    void aWriteExpectingAnotherVersionIsRefusedAndChangesNothing() {
        store.put("users", "ada", "{\"n\":1}");
        assertThatThrownBy(() -> store.put("users", "ada", "{\"n\":2}", StateStore.ABSENT))
                .isInstanceOf(VersionConflictException.class)
                .satisfies(e -> assertThat(((VersionConflictException) e).actual()).isEqualTo(1));
        assertThatThrownBy(() -> store.put("users", "ada", "{\"n\":3}", 7)).isInstanceOf(VersionConflictException.class);
        assertThatThrownBy(() -> store.delete("users", "ada", 7)).isInstanceOf(VersionConflictException.class);
        assertThat(store.get("users", "ada")).map(StateRecord::json).contains("{\"n\":1}");
    }

    @Test
    void listGivesACollectionOrderedByKeyAndNothingOfOthers() {
        store.put("scripts", "b", "{}");
        store.put("scripts", "a", "{}");
        store.put("users", "a", "{}");
        assertThat(store.list("scripts")).extracting(StateRecord::key).containsExactly("a", "b");
        assertThat(store.list("empty")).isEmpty();
    }

    @Test
    void deleteRemovesAndSaysWhetherThereWasARecord() {
        store.put("users", "ada", "{}");
        assertThat(store.delete("users", "ada")).isTrue();
        assertThat(store.delete("users", "ada")).isFalse();
        assertThat(store.get("users", "ada")).isEmpty();
        assertThat(store.put("users", "ada", "{}", StateStore.ABSENT).version()).isEqualTo(1);
    }

    @Test
    void aBatchIsAllOrNothing() {
        store.put("model", "module/a", "{\"v\":1}");
        assertThatThrownBy(() -> store.write(List.of(
                new StateWrite.Put("model", "module/b", "{}", StateStore.ABSENT),
                new StateWrite.Put("model", "module/a", "{\"v\":2}", 5))))
                .isInstanceOf(VersionConflictException.class);
        assertThat(store.get("model", "module/b")).isEmpty();
        assertThat(store.get("model", "module/a")).map(StateRecord::json).contains("{\"v\":1}");

        List<StateRecord> written = store.write(List.of(
                new StateWrite.Put("model", "module/b", "{}", StateStore.ABSENT),
                new StateWrite.Delete("model", "module/a", 1)));
        assertThat(written).extracting(StateRecord::key).containsExactly("module/b");
        assertThat(store.list("model")).extracting(StateRecord::key).containsExactly("module/b");
    }

    @Test
    void watchersSeeCommittedChangesOfTheirCollectionOnly() {
        List<StateChange> seen = new CopyOnWriteArrayList<>();
        StateStore.Watch watch = store.watch("users", seen::add);
        store.put("users", "ada", "{}");
        store.put("scripts", "x", "{}");
        store.delete("users", "ada");
        try {
            store.put("users", "bob", "{}", 3);
        } catch (VersionConflictException expected) {
            // a refused write is not a change
        }
        watch.close();
        store.put("users", "cy", "{}");
        assertThat(seen).extracting(StateChange::key).containsExactly("ada", "ada");
        assertThat(seen.get(0).record()).map(StateRecord::version).contains(1L);
        assertThat(seen.get(1).record()).isEmpty();
    }

    @Test
    void recordsSurviveClosingAndOpeningAgain() {
        store.put("users", "ada", "{\"role\":\"administrator\"}");
        store.put("users", "ada", "{\"role\":\"user\"}");
        store.close();
        store = reopen();
        Optional<StateRecord> r = store.get("users", "ada");
        assertThat(r).map(StateRecord::version).contains(2L);
        assertThat(r).map(StateRecord::json).contains("{\"role\":\"user\"}");
    }

    @Test
    void badNamesAreRefusedWithASentence() {
        assertThatThrownBy(() -> store.put("Users!", "a", "{}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("lower-case word");
        assertThatThrownBy(() -> store.put("users", "", "{}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 to 1024 characters");
    }

    @Test
    void committedOffsetsRoundTrip() {
        StateOffsets offsets = StateOffsets.of(store, "raw", "telemetry", 0);
        assertThat(offsets.load()).isZero();
        offsets.commit(42);
        assertThat(StateOffsets.of(store, "raw", "telemetry", 0).load()).isEqualTo(42);
        assertThat(StateOffsets.of(store, "raw", "ota", 7).load()).isEqualTo(7);
    }
}
