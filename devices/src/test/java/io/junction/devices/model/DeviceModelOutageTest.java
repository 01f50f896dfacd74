package io.junction.devices.model;

import io.junction.core.Ids;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.auth.Principal;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.state.StateRecord;
import io.junction.core.testing.MemoryStateStore;
import io.junction.core.testing.MemoryStream;
import io.junction.devices.builtin.VirtualDriver;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverContext;
import io.junction.devices.driver.DriverInfo;
import io.junction.devices.driver.JavaDriverType;
import io.junction.devices.driver.MqttDriverType;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The device model over a module status port whose engine goes away, as the Redis adapter's does: status writes that
 * throw hold the raw offset back and are retried until written; lookup changes and resyncs heard on the port's thread
 * never wait for the model; after a lost subscription each client is told what it missed.
 */
class DeviceModelOutageTest {

    static final SystemId ROOM = SystemId.of("room");
    static final ModuleRef DISPLAY_1 = new ModuleRef("Display", 1);
    static final ModuleRef DISPLAY_2 = new ModuleRef("Display", 2);

    final MemoryStream raw = new MemoryStream("raw");
    final MemoryStateStore state = new MemoryStateStore(Clock.systemUTC());
    final UnreliableModuleStatusStore status = new UnreliableModuleStatusStore();

    DeviceModel open(DriverCatalog drivers, long execTimeoutMillis) {
        DeviceModel m = DeviceModel.builder().state(state).status(status).drivers(drivers).metrics(new SimpleMeterRegistry())
                .commands((key, body) -> CompletableFuture.completedFuture(new Message(Ids.next(0), 0, "t", key, "d", Message.COMMAND, body)))
                .execTimeoutMillis(execTimeoutMillis).open();
        m.start(raw);
        return m;
    }

    static DriverCatalog drivers() {
        DriverCatalog d = new DriverCatalog(Clock.systemUTC());
        d.put(JavaDriverType.of(VirtualDriver.class, "built-in"));
        return d;
    }

    static ModuleId id(String id) {
        return ModuleId.of(id);
    }

    static ModuleSpec.Draft display(String id) {
        return new ModuleSpec.Draft(Optional.of(id(id)), "virtual", Optional.of("Display"), Optional.empty(), Json.object(), true);
    }

    Optional<String> committed() {
        return state.get("offsets", "raw/devices").map(StateRecord::json);
    }

    void append(String key, String body) throws Exception {
        raw.append(new Message(Ids.next(1), 1, "t", RoutingKey.of(key), "dev", Message.STATUS, body)).get();
    }

    @Test
    void aDeviceMessageWhoseStatusWasNotWrittenHoldsTheOffsetAndIsHandedOverAgainUntilItIs() throws Exception {
        var def = Json.object().put("id", "sensor").put("name", "Sensor");
        def.putObject("status").put("power", "{room}.sensor.power").put("level", "{room}.sensor.level");
        DriverCatalog drivers = drivers();
        drivers.put(MqttDriverType.parse(def, "test"));
        try (DeviceModel m = open(drivers, 2_000)) {
            m.createModule(new ModuleSpec.Draft(Optional.of(id("s")), "sensor", Optional.empty(), Optional.empty(),
                    Json.object().put("room", "hall"), true)).join();
            append("hall.sensor.power", "{\"value\":true}");
            await().atMost(Duration.ofSeconds(10)).until(() -> committed().equals(Optional.of("{\"next\":1}")));
            assertThat(m.status(id("s"))).containsEntry("power", "true");

            // The engine is away: every write throws, however often the batch is handed over.
            status.failNextSets(Integer.MAX_VALUE);
            append("hall.sensor.power", "{\"value\":false}");
            append("hall.sensor.level", "{\"value\":3}");
            await().atMost(Duration.ofSeconds(10)).until(() -> status.failedSets() >= 3);
            assertThat(committed()).as("not committed past a message whose status was not written").contains("{\"next\":1}");
            assertThat(m.status(id("s"))).containsExactly(Map.entry("power", "true"));

            // Back, after a few more failures: both messages are written, in order, and the offset moves past them.
            status.failNextSets(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> m.status(id("s")).size() == 2);
            assertThat(m.status(id("s"))).containsExactly(Map.entry("level", "3"), Map.entry("power", "false"));
            await().atMost(Duration.ofSeconds(10)).until(() -> committed().equals(Optional.of("{\"next\":3}")));
            assertThat(m.view(m.module(id("s")).orElseThrow()).dropped()).isZero();
        }
    }

    /** A driver whose start waits for the test, so the model's actor waits in the middle of a turn. */
    @DriverInfo(id = "gate", name = "Gate")
    public static final class Gate implements Driver {
        static volatile CountDownLatch entered = new CountDownLatch(1);
        static volatile CountDownLatch open = new CountDownLatch(1);

        @Override
        public void start(DriverContext context) throws Exception {
            entered.countDown();
            open.await(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void lookupChangesHeardWhileTheModelIsBusyNeverWaitAndEndInOneReindex() throws Exception {
        DriverCatalog drivers = drivers();
        drivers.put(JavaDriverType.of(Gate.class, "test"));
        Gate.entered = new CountDownLatch(1);
        Gate.open = new CountDownLatch(1);
        try (DeviceModel m = open(drivers, 60_000)) {
            m.createModule(display("a")).join();
            m.createModule(display("b")).join();
            m.createSystem(new SystemSpec.Draft(Optional.of(ROOM), "room", List.of(id("a"), id("b")))).join();
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[true]")).get();
            m.exec(Principal.SYSTEM, "b", "power", Json.parse("[false]")).get();
            List<String> seen = new CopyOnWriteArrayList<>();
            m.bind(ROOM, DISPLAY_1, "power", seen::add).join();

            CompletableFuture<ModuleSpec> busy = m.createModule(new ModuleSpec.Draft(Optional.of(id("g")), "gate", Optional.empty(),
                    Optional.empty(), Json.object(), true));
            assertThat(Gate.entered.await(30, TimeUnit.SECONDS)).as("the model's actor waits for the gate").isTrue();

            // Another node swaps the displays over and over: more lookup changes than the model's mailbox holds, heard
            // on this thread (the port's), which must not wait for the busy model.
            int changes = 2 * DeviceModel.MAILBOX + 1;
            CompletableFuture<Void> heard = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < changes; i++) {
                    status.replaceSystem(ROOM, i % 2 == 0 ? Map.of(DISPLAY_1, id("b"), DISPLAY_2, id("a"))
                            : Map.of(DISPLAY_1, id("a"), DISPLAY_2, id("b")));
                }
            });
            heard.get(30, TimeUnit.SECONDS);
            assertThat(seen).as("nothing re-resolved while the model is busy").containsExactly("true");

            Gate.open.countDown();
            busy.join();
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == 2);
            // A round trip through the model's actor: every catch-up queued before it has run.
            m.createSystem(new SystemSpec.Draft(Optional.of(SystemId.of("other")), "other", List.of())).join();
            assertThat(seen).as("the last lookup (b at Display 1), told once").containsExactly("true", "false");
        }
    }

    @Test
    void afterMissedChangesAResyncTellsEachClientWhatItMissedAndNothingElse() throws Exception {
        try (DeviceModel m = open(drivers(), 2_000)) {
            for (String id : List.of("a", "b", "c")) {
                m.createModule(display(id)).join();
            }
            m.createSystem(new SystemSpec.Draft(Optional.of(ROOM), "room", List.of(id("a"), id("b")))).join();
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[true]")).get();
            m.exec(Principal.SYSTEM, "a", "set", Json.parse("{\"name\": \"input\", \"value\": \"hdmi\"}")).get();
            m.exec(Principal.SYSTEM, "b", "power", Json.parse("[false]")).get();
            m.exec(Principal.SYSTEM, "c", "power", Json.parse("[true]")).get();
            List<String> power1 = new CopyOnWriteArrayList<>();
            List<String> power2 = new CopyOnWriteArrayList<>();
            List<String> input1 = new CopyOnWriteArrayList<>();
            m.bind(ROOM, DISPLAY_1, "power", power1::add).join();
            m.bind(ROOM, DISPLAY_2, "power", power2::add).join();
            m.bind(ROOM, DISPLAY_1, "input", input1::add).join();

            // The subscription is lost while another node turns a off and puts c at Display 2.
            status.deaf(true);
            status.set(id("a"), "power", "false");
            status.replaceSystem(ROOM, Map.of(DISPLAY_1, id("a"), DISPLAY_2, id("c")));
            status.deaf(false);
            assertThat(power1).containsExactly("true");
            assertThat(power2).containsExactly("false");

            status.resync();
            await().atMost(Duration.ofSeconds(10)).until(() -> power1.size() == 2 && power2.size() == 2);
            // A round trip through the model's actor: the catch-up turn has finished.
            m.createSystem(new SystemSpec.Draft(Optional.of(SystemId.of("other")), "other", List.of())).join();
            assertThat(power1).containsExactly("true", "false");
            assertThat(power2).as("Display 2 is c now").containsExactly("false", "true");
            assertThat(input1).as("unchanged, so not told again").containsExactly("\"hdmi\"");

            // Changes are heard again, through the lookup as it is now.
            status.set(id("c"), "power", "false");
            assertThat(power2).containsExactly("false", "true", "false");
            status.set(id("b"), "power", "true");
            assertThat(power2).hasSize(3);
        }
    }
}
