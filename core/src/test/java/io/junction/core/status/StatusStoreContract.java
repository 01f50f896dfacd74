package io.junction.core.status;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.stream.StreamEntry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The behaviour every status adapter must have. Each adapter's test extends this class and opens its store; the same
 * tests then run against the embedded store and (later) Redis.
 */
public abstract class StatusStoreContract {

    protected static final long T0 = 1_700_000_000_000L;

    private final List<StatusStore> opened = new ArrayList<>();

    /** Opens this test's store; a second call after closing the first opens the same data again. */
    protected abstract StatusStore openStore();

    protected final StatusStore open() {
        StatusStore s = openStore();
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeStores() {
        for (StatusStore s : opened) {
            s.close();
        }
    }

    protected static Message at(String key, int value) {
        return new Message("id-" + key + "-" + value, T0 + value, "t/" + key.replace('.', '/'), RoutingKey.of(key), "dev",
                Message.STATUS, "{\"value\":" + value + "}");
    }

    @Test
    void theLastValueOfAKeyWinsAndTheNextOffsetFollows() {
        StatusStore status = open();
        assertThat(status.nextOffset()).isZero();
        status.update(new StreamEntry(0, at("room.lamp.level", 1)));
        status.update(new StreamEntry(1, at("room.lamp.level", 2)));
        status.update(new StreamEntry(2, at("room.fan.speed", 7)));
        assertThat(status.get(RoutingKey.of("room.lamp.level"))).contains(at("room.lamp.level", 2));
        assertThat(status.get(RoutingKey.of("room.fan.speed"))).contains(at("room.fan.speed", 7));
        assertThat(status.get(RoutingKey.of("room.door"))).isEmpty();
        assertThat(status.nextOffset()).isEqualTo(3);
    }

    @Test
    void anEntryAlreadySeenIsIgnored() {
        StatusStore status = open();
        status.update(new StreamEntry(5, at("a.b", 5)));
        status.update(new StreamEntry(3, at("a.b", 3)));
        status.update(new StreamEntry(5, at("a.b", 55)));
        assertThat(status.get(RoutingKey.of("a.b"))).contains(at("a.b", 5));
        assertThat(status.nextOffset()).isEqualTo(6);
        status.update(new StreamEntry(6, at("a.b", 6)));
        assertThat(status.get(RoutingKey.of("a.b"))).contains(at("a.b", 6));
        assertThat(status.nextOffset()).isEqualTo(7);
    }

    @Test
    void findReturnsTheKeysAPatternMatchesOrderedByKey() {
        StatusStore status = open();
        String[] keys = {"plant.b.temperature", "plant.a.temperature", "plant.a.humidity", "plant.temperature",
                "office.a.temperature", "plant.a.b.temperature"};
        for (int i = 0; i < keys.length; i++) {
            status.update(new StreamEntry(i, at(keys[i], i)));
        }
        assertThat(status.find(RoutingPattern.of("plant.*.temperature"))).extracting(m -> m.key().value())
                .containsExactly("plant.a.temperature", "plant.b.temperature");
        assertThat(status.find(RoutingPattern.of("plant.#.temperature"))).extracting(m -> m.key().value())
                .containsExactly("plant.a.b.temperature", "plant.a.temperature", "plant.b.temperature", "plant.temperature");
        assertThat(status.find(RoutingPattern.ALL)).extracting(m -> m.key().value())
                .containsExactly("office.a.temperature", "plant.a.b.temperature", "plant.a.humidity",
                        "plant.a.temperature", "plant.b.temperature", "plant.temperature");
        assertThat(status.find(RoutingPattern.of("plant.a.humidity"))).containsExactly(at("plant.a.humidity", 2));
        assertThat(status.find(RoutingPattern.of("plant.z.humidity"))).isEmpty();
    }

    @Test
    void theStatusAndItsOffsetAreKeptAcrossARestart() {
        StatusStore status = open();
        for (int i = 0; i < 250; i++) {
            status.update(new StreamEntry(i, at("room.device" + (i % 25) + ".level", i)));
        }
        List<Message> before = status.find(RoutingPattern.ALL);
        status.close();

        StatusStore reopened = open();
        assertThat(reopened.nextOffset()).isEqualTo(250);
        assertThat(reopened.find(RoutingPattern.ALL)).isEqualTo(before).hasSize(25);
        assertThat(reopened.get(RoutingKey.of("room.device3.level"))).contains(at("room.device3.level", 228));
        reopened.update(new StreamEntry(249, at("room.device3.level", -1)));
        assertThat(reopened.get(RoutingKey.of("room.device3.level"))).as("still ignores what it had seen")
                .contains(at("room.device3.level", 228));
    }
}
