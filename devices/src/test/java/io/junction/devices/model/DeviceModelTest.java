package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Ids;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.testing.MemoryStream;
import io.junction.devices.builtin.VirtualDriver;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.JavaDriverType;
import io.junction.devices.driver.MqttDriverType;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The device model on real files: modules, systems, bindings, exec, and what survives a reopen. */
class DeviceModelTest {

    @TempDir
    Path dir;

    final List<String> sent = new CopyOnWriteArrayList<>();
    final MemoryStream raw = new MemoryStream("raw");

    DriverCatalog drivers() {
        DriverCatalog d = new DriverCatalog(Clock.systemUTC());
        d.put(JavaDriverType.of(VirtualDriver.class, "built-in"));
        return d;
    }

    DeviceModel open(DriverCatalog drivers) {
        DeviceModel m = DeviceModel.builder().dir(dir).drivers(drivers).metrics(new SimpleMeterRegistry())
                .commands((key, body) -> {
                    sent.add(key.value() + " " + body);
                    return CompletableFuture.completedFuture(new Message(Ids.next(0), 0, "t", key, "d", Message.COMMAND, body));
                })
                .execTimeoutMillis(2_000).open();
        m.start(raw);
        return m;
    }

    @Test
    void modulesSystemsAndStatusSurviveAReopenAndRunningModulesStartAgain() throws Exception {
        DriverCatalog drivers = drivers();
        try (DeviceModel m = open(drivers)) {
            m.createModule(Json.parse("{\"id\": \"a\", \"driver\": \"virtual\", \"name\": \"Display\"}"));
            m.createModule(Json.parse("{\"id\": \"b\", \"driver\": \"virtual\", \"name\": \"Display\", \"running\": false}"));
            m.createSystem(Json.parse("{\"id\": \"room\", \"name\": \"Room\", \"modules\": [\"a\", \"b\"]}"));
            m.exec(Principal.SYSTEM, "a", "set", Json.parse("{\"name\": \"input\", \"value\": \"hdmi\"}")).get();
        }
        try (DeviceModel m = open(drivers)) {
            assertThat(m.resolve("room", "Display", 2)).contains("b");
            assertThat(m.status("a").path("input").asText()).isEqualTo("hdmi");
            assertThat(m.exec(Principal.SYSTEM, "a", "add", Json.parse("[1]")).get().asInt()).isEqualTo(201);
            assertThatThrownBy(() -> m.exec(Principal.SYSTEM, "b", "add", Json.parse("[1]")).join())
                    .hasCauseInstanceOf(ExecException.class).hasMessageContaining("is stopped");
        }
    }

    @Test
    void aBindingFollowsReorderingAndDeletion() throws Exception {
        try (DeviceModel m = open(drivers())) {
            m.createModule(Json.parse("{\"id\": \"a\", \"driver\": \"virtual\", \"name\": \"Display\"}"));
            m.createModule(Json.parse("{\"id\": \"b\", \"driver\": \"virtual\", \"name\": \"Display\"}"));
            m.createSystem(Json.parse("{\"id\": \"room\", \"name\": \"Room\", \"modules\": [\"a\", \"b\"]}"));
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[true]")).get();
            m.exec(Principal.SYSTEM, "b", "power", Json.parse("[false]")).get();
            List<JsonNode> seen = new CopyOnWriteArrayList<>();
            try (AutoCloseable binding = m.bind("room", "Display", 1, "power", seen::add)) {
                assertThat(seen).extracting(JsonNode::toString).containsExactly("true");
                m.updateSystem("room", Json.parse("{\"modules\": [\"b\", \"a\"]}"));
                assertThat(seen).extracting(JsonNode::toString).containsExactly("true", "false");
                m.deleteModule("b");
                assertThat(seen).extracting(JsonNode::toString).containsExactly("true", "false", "true");
            }
            m.exec(Principal.SYSTEM, "a", "power", Json.parse("[false]")).get();
            assertThat(seen).hasSize(3);
        }
    }

    @Test
    void execRefusesAMissingRoleAndAnUnknownFunction() throws Exception {
        try (DeviceModel m = open(drivers())) {
            m.createModule(Json.parse("{\"id\": \"a\", \"driver\": \"virtual\"}"));
            Principal user = new Principal("ann", Role.USER);
            assertThatThrownBy(() -> m.exec(user, "a", "error_task", null).join()).hasMessageContaining("needs the role support");
            assertThat(m.exec(new Principal("sam", Role.SUPPORT), "a", "error_task", null).get().asText()).isEqualTo("cleared");
            assertThatThrownBy(() -> m.exec(user, "a", "fly", null).join()).hasMessageContaining("has no function 'fly'");
            assertThatThrownBy(() -> m.exec(user, "zz", "add", null).join()).hasMessageContaining("there is no module 'zz'");
        }
    }

    @Test
    void aGenericDriverTurnsStatusMessagesIntoStatusAndCallsIntoCommands() throws Exception {
        DriverCatalog drivers = drivers();
        var def = Json.object().put("id", "light").put("name", "Light");
        def.putObject("status").put("power", "{room}.light.power");
        def.putObject("functions").putObject("power").put("key", "{room}.light.power").put("payload", "on")
                .putObject("params").put("on", "Bool");
        drivers.put(MqttDriverType.parse(def, "test"));
        try (DeviceModel m = open(drivers)) {
            m.createModule(Json.parse("{\"id\": \"l\", \"driver\": \"light\", \"settings\": {\"room\": \"hall\"}}"));
            raw.append(new Message(Ids.next(1), 1, "t", RoutingKey.of("hall.light.power"), "dev", Message.STATUS, "{\"value\":true}")).get();
            await().atMost(Duration.ofSeconds(5)).until(() -> m.status("l").path("power").asBoolean());
            m.exec(Principal.SYSTEM, "l", "power", Json.parse("[false]")).get();
            assertThat(sent).containsExactly("hall.light.power {\"value\":false}");
            // A module whose settings lack what its keys name does not start, and says why.
            assertThatThrownBy(() -> m.createModule(Json.parse("{\"id\": \"l2\", \"driver\": \"light\"}")))
                    .hasMessageContaining("needs the setting 'room'");
        }
    }

    @Test
    void replacingADriverRestartsItsModulesOnTheNewCode() throws Exception {
        DriverCatalog drivers = drivers();
        var v1 = Json.object().put("id", "thing").put("name", "Thing");
        v1.putObject("functions").putObject("ping").put("key", "a.b");
        drivers.put(MqttDriverType.parse(v1, "v1"));
        try (DeviceModel m = open(drivers)) {
            m.createModule(Json.parse("{\"id\": \"t\", \"driver\": \"thing\"}"));
            var v2 = Json.object().put("id", "thing").put("name", "Thing");
            v2.putObject("functions").putObject("pong").put("key", "a.c");
            drivers.put(MqttDriverType.parse(v2, "v2"));
            await().atMost(Duration.ofSeconds(5)).until(() -> m.moduleJson(m.module("t").orElseThrow()).path("source").asText().equals("v2"));
            m.exec(Principal.SYSTEM, "t", "pong", null).get();
            assertThat(sent).containsExactly("a.c {}");
        }
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
            m.createModule(Json.parse("{\"id\": \"s\", \"driver\": \"slow\"}"));
            assertThat(m.exec(Principal.SYSTEM, "s", "nap", Json.parse("[1]")).get().asText()).isEqualTo("awake");
            assertThatThrownBy(() -> m.exec(Principal.SYSTEM, "s", "nap", Json.parse("[4000]")).join())
                    .hasMessageContaining("did not answer within 2000 ms");
        }
    }
}
