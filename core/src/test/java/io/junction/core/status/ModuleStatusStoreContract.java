package io.junction.core.status;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The behaviour every {@link ModuleStatusStore} adapter must show, against its real engine: PlaceOS' layout
 * ({@code status/<module_id>}, {@code system/<system_id>} with {@code Name/index} fields, {@code interface/<module_id>}),
 * change notifications, and values that survive closing and opening again.
 */
public abstract class ModuleStatusStoreContract {

    static final ModuleId A = ModuleId.of("display-a");
    static final ModuleId B = ModuleId.of("display-b");
    static final SystemId ROOM = SystemId.of("room-101");

    protected ModuleStatusStore store;

    /** A new, empty store. */
    protected abstract ModuleStatusStore open();

    /** The same store opened again after {@link ModuleStatusStore#close()}: what was set must be there. */
    protected abstract ModuleStatusStore reopen();

    /** What a listener heard, in order, as text. */
    final List<String> heard = new CopyOnWriteArrayList<>();

    final ModuleStatusStore.Listener recorder = new ModuleStatusStore.Listener() {
        @Override
        public void statusChanged(ModuleId module, String name, Optional<String> json) {
            heard.add("status/" + module + " " + name + "=" + json.orElse("(deleted)"));
        }

        @Override
        public void lookupChanged(SystemId system) {
            heard.add("lookup-change " + system);
        }
    };

    @BeforeEach
    void openStore() {
        store = open();
    }

    /** Called after the store is closed at the end of each test: an adapter closes its engine here. */
    protected void closeEngine() {
    }

    @AfterEach
    void closeStore() {
        store.close();
        closeEngine();
    }

    @Test
    void aStatusVariableIsSetReadAndDeletedAsJsonText() {
        assertThat(store.set(A, "power", "true")).isTrue();
        assertThat(store.set(A, "input", "\"hdmi\"")).isTrue();
        assertThat(store.set(A, "power", "true")).as("the same value again is no change").isFalse();
        assertThat(store.get(A, "power")).contains("true");
        assertThat(store.all(A)).containsExactly(Map.entry("input", "\"hdmi\""), Map.entry("power", "true"));
        assertThat(store.all(B)).isEmpty();
        assertThat(store.get(B, "power")).isEmpty();

        assertThat(store.delete(A, "power")).isTrue();
        assertThat(store.delete(A, "power")).isFalse();
        assertThat(store.get(A, "power")).isEmpty();
        assertThat(store.all(A)).containsOnlyKeys("input");
    }

    @Test
    void listenersHearChangesOnlyAndDeletionsAsNothing() {
        try (ModuleStatusStore.Subscription s = store.listen(recorder)) {
            store.set(A, "power", "true");
            store.set(A, "power", "true");
            store.set(A, "power", "false");
            store.set(B, "level", "{\"v\":1}");
            store.delete(A, "power");
            assertThat(heard).containsExactly("status/display-a power=true", "status/display-a power=false",
                    "status/display-b level={\"v\":1}", "status/display-a power=(deleted)");
        }
        store.set(A, "power", "true");
        assertThat(heard).as("a closed subscription hears nothing").hasSize(4);
    }

    @Test
    void clearingAModuleDeletesItsHashAndEachVariableIsHeardGoing() {
        store.set(A, "power", "true");
        store.set(A, "input", "\"hdmi\"");
        store.set(B, "power", "false");
        try (ModuleStatusStore.Subscription s = store.listen(recorder)) {
            store.clear(A);
        }
        assertThat(store.all(A)).isEmpty();
        assertThat(store.get(B, "power")).contains("false");
        assertThat(heard).containsExactlyInAnyOrder("status/display-a power=(deleted)", "status/display-a input=(deleted)");
    }

    @Test
    void aSystemsLookupIsReplacedWholeAndEachReplacementIsALookupChange() {
        try (ModuleStatusStore.Subscription s = store.listen(recorder)) {
            store.replaceSystem(ROOM, Map.of(new ModuleRef("Display", 1), A, new ModuleRef("Display", 2), B));
            assertThat(store.lookup(ROOM, new ModuleRef("Display", 2))).contains(B);
            store.replaceSystem(ROOM, Map.of(new ModuleRef("Display", 1), B));
            assertThat(store.lookup(ROOM, new ModuleRef("Display", 1))).contains(B);
            assertThat(store.lookup(ROOM, new ModuleRef("Display", 2))).as("the old hash is gone, not merged").isEmpty();
            assertThat(store.system(ROOM)).containsExactly(Map.entry(new ModuleRef("Display", 1), B));
            store.replaceSystem(ROOM, Map.of());
        }
        assertThat(store.system(ROOM)).isEmpty();
        assertThat(store.lookup(SystemId.of("nowhere"), new ModuleRef("Display", 1))).isEmpty();
        assertThat(heard).containsExactly("lookup-change room-101", "lookup-change room-101", "lookup-change room-101");
    }

    @Test
    void anInterfaceHoldsTheModulesDriverMetadata() {
        store.setInterface(A, "{\"functions\":{\"power\":{\"state\":[\"Bool\"]}}}");
        assertThat(store.getInterface(A)).contains("{\"functions\":{\"power\":{\"state\":[\"Bool\"]}}}");
        assertThat(store.getInterface(B)).isEmpty();
        store.deleteInterface(A);
        assertThat(store.getInterface(A)).isEmpty();
    }

    @Test
    void statusLookupsAndInterfacesSurviveClosingAndOpeningAgain() {
        store.set(A, "power", "true");
        store.set(A, "input", "\"hdmi\"");
        store.set(B, "gone", "1");
        store.clear(B);
        store.replaceSystem(ROOM, Map.of(new ModuleRef("Display", 1), A));
        store.setInterface(A, "{\"implements\":[\"Powerable\"]}");
        store.flush();
        store.set(A, "power", "false");
        store.close();

        store = reopen();
        assertThat(store.all(A)).containsExactly(Map.entry("input", "\"hdmi\""), Map.entry("power", "false"));
        assertThat(store.all(B)).isEmpty();
        assertThat(store.lookup(ROOM, new ModuleRef("Display", 1))).contains(A);
        assertThat(store.getInterface(A)).contains("{\"implements\":[\"Powerable\"]}");
    }

    @Test
    void aLookupFieldIsNameSlashIndex() {
        assertThat(ModuleStatusStore.field(new ModuleRef("Display", 2))).isEqualTo("Display/2");
        assertThat(ModuleStatusStore.parseField("Display/2")).contains(new ModuleRef("Display", 2));
        assertThat(ModuleStatusStore.parseField("Display")).isEmpty();
        assertThat(ModuleStatusStore.parseField("Display/0")).isEmpty();
    }
}
