package io.junction.devices.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Ids;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.device.DeviceUid;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.state.StateRecord;
import io.junction.core.testing.MemoryModuleStatusStore;
import io.junction.core.testing.MemoryStateStore;
import io.junction.core.testing.MemoryStream;
import io.junction.devices.builtin.VirtualDriver;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.JavaDriverType;
import io.junction.devices.driver.MqttDriverType;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The device model with the in-memory state and status ports, reopened on the same ports: modules, systems,
 * bindings, exec, following the raw stream at least once, and the one-time import of the files of earlier versions.
 */
class DeviceModelTest {

    @TempDir
    Path dir;

    final List<String> sent = new CopyOnWriteArrayList<>();
    final MemoryStream raw = new MemoryStream("raw");
    final MemoryStateStore state = new MemoryStateStore(Clock.systemUTC());
    final MemoryModuleStatusStore status = new MemoryModuleStatusStore();

    DriverCatalog drivers() {
        DriverCatalog d = new DriverCatalog(Clock.systemUTC());
        d.put(JavaDriverType.of(VirtualDriver.class, "built-in"));
        return d;
    }

    DeviceModel open(DriverCatalog drivers) {
        DeviceModel m = DeviceModel.builder().dir(dir).state(state).status(status).drivers(drivers).metrics(new SimpleMeterRegistry())
                .commands((key, body) -> {
                    sent.add(key.value() + " " + body);
                    return CompletableFuture.completedFuture(new Message(Ids.next(0), 0, "t", key, "d", Message.COMMAND, body));
                })
                .execTimeoutMillis(2_000).open();
        m.start(raw);
        return m;
    }

    static ModuleSpec.Draft module(String id, String driver, String name) {
        return new ModuleSpec.Draft(Optional.of(ModuleId.of(id)), driver, Optional.ofNullable(name), Optional.empty(), Json.object(), true);
    }

    static SystemSpec.Draft system(String id, String... modules) {
        return new SystemSpec.Draft(Optional.of(SystemId.of(id)), id, List.of(modules).stream().map(ModuleId::of).toList());
    }

    static ModuleId id(String id) {
        return ModuleId.of(id);
    }

    static final SystemId ROOM = SystemId.of("room");

    @Test
    void modulesSystemsAndStatusSurviveAReopenAndRunningModulesStartAgain() throws Exception {
        DriverCatalog drivers = drivers();
        try (DeviceModel m = open(drivers)) {
            m.createModule(module("a", "virtual", "Display")).join();
            m.createModule(new ModuleSpec.Draft(Optional.of(id("b")), "virtual", Optional.of("Display"), Optional.empty(), Json.object(), false)).join();
            m.createSystem(system("room", "a", "b")).join();
            m.exec(Principal.SYSTEM, "a", "set", Json.parse("{\"name\": \"input\", \"value\": \"hdmi\"}")).get();
        }
        try (DeviceModel m = open(drivers)) {
            assertThat(m.resolve(ROOM, new ModuleRef("Display", 2))).contains(id("b"));
            assertThat(m.status(id("a"))).containsEntry("input", "\"hdmi\"");
            assertThat(m.exec(Principal.SYSTEM, "a", "add", Json.parse("[1]")).get().asInt()).isEqualTo(201);
            assertThatThrownBy(() -> m.exec(Principal.SYSTEM, "b", "add", Json.parse("[1]")).join())
                    .hasCauseInstanceOf(ExecException.class).hasMessageContaining("is stopped");
            assertThat(m.modules()).extracting(ModuleSpec::id).as("in the order they were created").containsExactly(id("a"), id("b"));
        }
    }

    @Test
    void aBindingFollowsReorderingAndDeletion() throws Exception {
        try (DeviceModel m = open(drivers())) {
            m.createModule(module("a", "virtual", "Display")).join();
            m.createModule(module("b", "virtual", "Display")).join();
            m.createSystem(system("room", "a", "b")).join();
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[true]")).get();
            m.exec(Principal.SYSTEM, "b", "power", Json.parse("[false]")).get();
            List<String> seen = new CopyOnWriteArrayList<>();
            try (AutoCloseable binding = m.bind(ROOM, new ModuleRef("Display", 1), "power", seen::add).join()) {
                assertThat(seen).containsExactly("true");
                m.updateSystem(ROOM, new SystemSpec.Change(Optional.empty(), Optional.of(List.of(id("b"), id("a"))))).join();
                assertThat(seen).containsExactly("true", "false");
                m.deleteModule(id("b")).join();
                assertThat(seen).containsExactly("true", "false", "true");
            }
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[false]")).get();
            assertThat(seen).hasSize(3);
            assertThat(status.lookup(ROOM, new ModuleRef("Display", 1))).as("the status port holds the system's lookup").contains(id("a"));
            assertThat(status.all(id("b"))).as("a deleted module's status is gone").isEmpty();
        }
    }

    @Test
    void execRefusesAMissingRoleAndAnUnknownFunction() throws Exception {
        try (DeviceModel m = open(drivers())) {
            m.createModule(module("a", "virtual", null)).join();
            Principal user = new Principal("ann", Role.USER);
            assertThatThrownBy(() -> m.exec(user, "a", "error_task", null).join()).hasMessageContaining("needs the role support");
            assertThat(m.exec(new Principal("sam", Role.SUPPORT), "a", "error_task", null).get().asText()).isEqualTo("cleared");
            assertThatThrownBy(() -> m.exec(user, "a", "fly", null).join()).hasMessageContaining("has no function 'fly'");
            assertThatThrownBy(() -> m.exec(user, "zz", "add", null).join()).hasMessageContaining("there is no module 'zz'");
        }
    }

    static MqttDriverType light() {
        var def = Json.object().put("id", "light").put("name", "Light");
        def.putObject("status").put("power", "{room}.light.power");
        def.putObject("functions").putObject("power").put("key", "{room}.light.power").put("payload", "on")
                .putObject("params").put("on", "Bool");
        return MqttDriverType.parse(def, "test");
    }

    static ModuleSpec.Draft hallLight(String id) {
        return new ModuleSpec.Draft(Optional.of(ModuleId.of(id)), "light", Optional.empty(), Optional.empty(),
                Json.object().put("room", "hall"), true);
    }

    Message status(String key, String body) {
        return new Message(Ids.next(1), 1, "t", RoutingKey.of(key), "dev", Message.STATUS, body);
    }

    /** Opens a model over {@code drivers} plus the light driver, creates the hall light "l" and waits until a status message has turned it on. */
    DeviceModel openWithLightOn(DriverCatalog drivers) throws Exception {
        drivers.put(light());
        DeviceModel m = open(drivers);
        m.createModule(hallLight("l")).join();
        raw.append(status("hall.light.power", "{\"value\":true}")).get();
        await().atMost(Duration.ofSeconds(5)).until(() -> "true".equals(m.status(id("l")).get("power")));
        return m;
    }

    @Test
    void aGenericDriverTurnsStatusMessagesIntoStatusAndCallsIntoCommands() throws Exception {
        try (DeviceModel m = openWithLightOn(drivers())) {
            m.exec(Principal.SYSTEM, "l", "power", Json.parse("[false]")).get();
            assertThat(sent).containsExactly("hall.light.power {\"value\":false}");
            // A module whose settings lack what its keys name does not start, and says why.
            assertThatThrownBy(() -> m.createModule(new ModuleSpec.Draft(Optional.of(id("l2")), "light", Optional.empty(),
                    Optional.empty(), Json.object(), true)).join())
                    .hasMessageContaining("needs the setting 'room'");
        }
    }

    @Test
    void deviceMessagesAppendedWhileTheModelWasClosedReachItsModulesAfterARestart() throws Exception {
        DriverCatalog drivers = drivers();
        openWithLightOn(drivers).close();
        raw.append(status("hall.light.power", "{\"value\":false}")).get();
        raw.append(status("hall.light.level", "{\"value\":3}")).get();
        try (DeviceModel m = open(drivers)) {
            await().atMost(Duration.ofSeconds(5)).until(() -> "false".equals(m.status(id("l")).get("power")));
        }
        assertThat(state.get("offsets", "raw/devices").map(StateRecord::json)).as("the follower committed the end of the stream")
                .contains("{\"next\":3}");
    }

    /** Records every message it receives, after the test lets it go. */
    @io.junction.devices.driver.DriverInfo(id = "recorder", name = "Recorder")
    public static final class Recorder implements io.junction.devices.driver.Driver {
        static final List<String> received = new CopyOnWriteArrayList<>();
        static volatile CountDownLatch gate = new CountDownLatch(0);

        @Override
        public void received(Message message) throws Exception {
            gate.await(30, TimeUnit.SECONDS);
            received.add(message.body());
        }
    }

    @Test
    void aModuleWhoseMailboxIsFullStillGetsEveryDeviceMessageInOrder() throws Exception {
        DriverCatalog drivers = drivers();
        drivers.put(JavaDriverType.of(Recorder.class, "test"));
        Recorder.received.clear();
        Recorder.gate = new CountDownLatch(1);
        int count = ModuleActor.MAILBOX + ModuleFeed.CAPACITY + 1_000;
        try (DeviceModel m = open(drivers)) {
            m.createModule(new ModuleSpec.Draft(Optional.of(id("r")), "recorder", Optional.empty(), Optional.of(DeviceUid.of("dev")),
                    Json.object(), true)).join();
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String body = "{\"n\":" + i + "}";
                expected.add(body);
                raw.append(status("dev.level", body)).get();
            }
            Recorder.gate.countDown();
            await().atMost(Duration.ofSeconds(60)).until(() -> Recorder.received.size() >= count);
            assertThat(Recorder.received).containsExactlyElementsOf(expected);
            assertThat(m.view(m.module(id("r")).orElseThrow()).dropped()).isZero();
        }
    }

    @Test
    void replacingADriverRestartsItsModulesOnTheNewCode() throws Exception {
        DriverCatalog drivers = drivers();
        var v1 = Json.object().put("id", "thing").put("name", "Thing");
        v1.putObject("functions").putObject("ping").put("key", "a.b");
        drivers.put(MqttDriverType.parse(v1, "v1"));
        try (DeviceModel m = open(drivers)) {
            m.createModule(module("t", "thing", null)).join();
            var v2 = Json.object().put("id", "thing").put("name", "Thing");
            v2.putObject("functions").putObject("pong").put("key", "a.c");
            drivers.put(MqttDriverType.parse(v2, "v2"));
            await().atMost(Duration.ofSeconds(5)).until(() -> m.view(m.module(id("t")).orElseThrow()).source().orElse("").equals("v2"));
            m.exec(Principal.SYSTEM, "t", "pong", null).get();
            assertThat(sent).containsExactly("a.c {}");
            assertThat(status.getInterface(id("t")).orElseThrow()).as("the interface is the new driver's metadata").contains("pong");
        }
    }

    @Test
    void aDriverDefinedThroughTheApiIsThereAfterARestart() throws Exception {
        ObjectNode def = Json.object().put("id", "fan").put("name", "Fan");
        def.putObject("functions").putObject("spin").put("key", "attic.fan.spin");
        try (DeviceModel m = open(drivers())) {
            assertThat(m.defineDriver(MqttDriverType.parse(def, "api"), def).join()).as("new, not a replacement").isFalse();
            m.createModule(module("f", "fan", null)).join();
        }
        DriverCatalog fresh = drivers();
        try (DeviceModel m = open(fresh)) {
            assertThat(fresh.get("fan")).map(t -> t.source()).contains("api");
            assertThat(m.exec(Principal.SYSTEM, "f", "spin", null).get().path("key").asText()).isEqualTo("attic.fan.spin");
        }
    }

    @Test
    void aModuleDeletedWhileAChangeIsUnderWayStaysDeleted() throws Exception {
        try (DeviceModel m = open(drivers())) {
            for (int i = 0; i < 10; i++) {
                m.createModule(module("m" + i, "virtual", "Display")).join();
            }
            List<CompletableFuture<?>> work = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                // Sent together: each change is checked and applied in one turn, so no update brings a deleted module back.
                work.add(m.updateModule(id("m" + i), new ModuleSpec.Change(Optional.of("Screen"), Optional.empty(), false,
                        Optional.empty(), Optional.empty())));
                work.add(m.deleteModule(id("m" + i)));
                work.add(m.updateModule(id("m" + i), new ModuleSpec.Change(Optional.of("Panel"), Optional.empty(), false,
                        Optional.empty(), Optional.empty())));
            }
            for (int i = 0; i < work.size(); i++) {
                boolean failed = work.get(i).handle((v, e) -> e != null).join();
                assertThat(failed).as("call %d", i).isEqualTo(i % 3 == 2);
            }
            assertThatThrownBy(() -> work.get(2).join()).hasMessageContaining("there is no module 'm0'");
            assertThat(m.modules()).isEmpty();
            assertThat(state.list("modules")).isEmpty();
        }
    }

    @Test
    void theFilesOfAnEarlierVersionAreImportedOnceAndKeptAsImported() throws Exception {
        Files.writeString(dir.resolve("model.json"), """
                {"modules": [{"id": "b", "name": "Display", "driver": "virtual", "device": "dev-1", "settings": {"x": 1}, "running": true},
                             {"id": "a", "name": "Display", "driver": "virtual", "settings": {}, "running": false}],
                 "systems": [{"id": "room", "name": "Room", "modules": ["b", "a"]}]}""");
        Files.writeString(dir.resolve("status.json"), "{\"b\": {\"input\": \"hdmi\", \"power\": true}}");
        try (DeviceModel m = open(drivers())) {
            assertThat(m.modules()).extracting(ModuleSpec::id).containsExactly(id("b"), id("a"));
            assertThat(m.module(id("b")).orElseThrow().device()).contains(DeviceUid.of("dev-1"));
            assertThat(m.module(id("b")).orElseThrow().settings().path("x").asInt()).isEqualTo(1);
            assertThat(m.resolve(ROOM, new ModuleRef("Display", 2))).contains(id("a"));
            assertThat(m.view(m.module(id("b")).orElseThrow()).running()).isTrue();
            assertThat(m.status(id("b"))).containsExactly(Map.entry("input", "\"hdmi\""), Map.entry("power", "true"));
        }
        assertThat(dir.resolve("model.json")).doesNotExist();
        assertThat(dir.resolve("model.json.imported")).exists();
        assertThat(dir.resolve("status.json.imported")).exists();
        assertThat(state.list("modules")).hasSize(2);

        // A model.json that reappears is not imported over what the state holds.
        Files.writeString(dir.resolve("model.json"), "{\"modules\": [{\"id\": \"z\", \"name\": \"Z\", \"driver\": \"virtual\"}]}");
        try (DeviceModel m = open(drivers())) {
            assertThat(m.modules()).extracting(ModuleSpec::id).containsExactly(id("b"), id("a"));
        }
        assertThat(dir.resolve("model.json")).exists();
    }

    @io.junction.devices.driver.DriverInfo(id = "slow", name = "Slow")
    public static final class Slow implements io.junction.devices.driver.Driver {
        @io.junction.devices.driver.Callable
        public String nap(@io.junction.devices.driver.Arg("ms") int ms) throws InterruptedException {
            Thread.sleep(ms);
            return "awake";
        }
    }

    @Test
    void aCallThatRunsTooLongAnswersWithATimeout() throws Exception {
        DriverCatalog drivers = drivers();
        drivers.put(JavaDriverType.of(Slow.class, "test"));
        try (DeviceModel m = open(drivers)) {
            m.createModule(module("s", "slow", null)).join();
            assertThat(m.exec(Principal.SYSTEM, "s", "nap", Json.parse("[1]")).get().asText()).isEqualTo("awake");
            assertThatThrownBy(() -> m.exec(Principal.SYSTEM, "s", "nap", Json.parse("[4000]")).join())
                    .hasMessageContaining("did not answer within 2000 ms");
        }
    }
}
