package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Role;
import io.junction.devices.builtin.VirtualDriver;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Metadata read from driver code and from generic definitions, and argument checking against it. */
class DriverMetadataTest {

    @DriverInfo(id = "display", name = "Display")
    @Implements({"Powerable", "Switchable"})
    @Requires(module = "Switcher_1", interfaces = {"Switchable"})
    public static final class Display implements Driver {
        @Callable
        public String input(@Arg("source") JsonNode source, @Arg(value = "level", fallback = "50") double level) {
            return source.asText() + level;
        }

        @Callable(role = Role.SUPPORT)
        public void reboot() {
        }

        @Callable
        public long big(@Arg("n") long n, @Arg(value = "mixed", types = {"String", "Int32"}, fallback = "\"x\"") JsonNode mixed,
                        @Arg(value = "flag", fallback = "false") boolean flag, @Arg("cfg") com.fasterxml.jackson.databind.node.ObjectNode cfg) {
            return n;
        }
    }

    public static final class NoInfo implements Driver {
    }

    @DriverInfo(id = "unnamed")
    public static final class Unnamed implements Driver {
        @Callable
        public void f(int x) {
        }
    }

    @DriverInfo(id = "bad-default")
    public static final class BadDefault implements Driver {
        @Callable
        public void f(@Arg(value = "x", fallback = "\"text\"") int x) {
        }
    }

    @Test
    void javaMetadataIsReadFromTheAnnotationsInThePlaceOsShape() throws Exception {
        JavaDriverType t = JavaDriverType.of(Display.class, "test");
        JsonNode json = t.metadata().toJson();
        assertThat(json).isEqualTo(Json.parse("""
                {"functions": {
                   "big": {"n": ["Int64"], "mixed": ["String | Int32", "x"], "flag": ["Bool", false], "cfg": ["Object"]},
                   "input": {"source": ["JSON"], "level": ["Float64", 50]},
                   "reboot": {}},
                 "implements": ["Powerable", "Switchable"],
                 "requirements": {"Switcher_1": ["Switchable"]},
                 "security": {"support": ["reboot"]}}"""));
    }

    @Test
    void aClassThatCannotBeADriverIsRefusedWithTheReason() {
        assertThatThrownBy(() -> JavaDriverType.of(String.class, "t")).hasMessageContaining("does not implement");
        assertThatThrownBy(() -> JavaDriverType.of(NoInfo.class, "t")).hasMessageContaining("@DriverInfo");
        assertThatThrownBy(() -> JavaDriverType.of(Unnamed.class, "t")).hasMessageContaining("needs @Arg");
        assertThatThrownBy(() -> JavaDriverType.of(BadDefault.class, "t")).hasMessageContaining("default of 'x'");
    }

    @Test
    void callsGoThroughTheDriverWithConvertedArguments() throws Throwable {
        JavaDriverType t = JavaDriverType.of(Display.class, "test");
        Driver d = t.create();
        FunctionSpec input = t.metadata().function("input").orElseThrow();
        List<JsonNode> args = Arguments.check("tv", input, Json.parse("{\"source\": \"hdmi\"}"));
        assertThat(t.call(d, input, args)).isEqualTo("hdmi50.0");
    }

    @Test
    void argumentsAreCheckedByNameOrPositionWithDefaultsFilledAndProblemsNamed() throws Exception {
        FunctionSpec add = JavaDriverType.of(VirtualDriver.class, "t").metadata().function("add").orElseThrow();
        assertThat(Arguments.check("m", add, Json.parse("[1, 2]"))).extracting(JsonNode::asInt).containsExactly(1, 2);
        assertThat(Arguments.check("m", add, Json.parse("{\"a\": 1}"))).extracting(JsonNode::asInt).containsExactly(1, 200);
        assertThat(Arguments.check("m", add, Json.parse("{\"a\": 3.0}"))).extracting(JsonNode::asInt).containsExactly(3, 200);
        assertThatThrownBy(() -> Arguments.check("m", add, Json.parse("{\"b\": 1, \"z\": 2}")))
                .isInstanceOf(ExecException.class)
                .hasMessage("m.add(a: Int32, b: Int32): missing argument a (Int32); unknown argument z");
        assertThatThrownBy(() -> Arguments.check("m", add, Json.parse("[1.5]"))).hasMessageContaining("argument a must be Int32, got 1.5");
        assertThatThrownBy(() -> Arguments.check("m", add, Json.parse("[1, 2, 3]"))).hasMessageContaining("takes 2 arguments but got 3");
        assertThatThrownBy(() -> Arguments.check("m", add, Json.parse("[3000000000]"))).hasMessageContaining("must be Int32");
        assertThatThrownBy(() -> Arguments.check("m", add, Json.parse("\"x\""))).hasMessageContaining("JSON object (by name) or array");
    }

    @Test
    void aGenericDefinitionBecomesMetadataAndBadOnesAreRefused() {
        MqttDriverType t = MqttDriverType.parse(Json.MAPPER.valueToTree(java.util.Map.of(
                "id", "fan", "name", "Fan",
                "status", java.util.Map.of("speed", "{room}.fan.speed"),
                "functions", java.util.Map.of("speed", java.util.Map.of("key", "{room}.fan.speed",
                        "params", java.util.Map.of("level", List.of("Int32", 1)), "role", "support")))), "t");
        assertThat(t.metadata().toJson().path("functions").toString()).isEqualTo("{\"speed\":{\"level\":[\"Int32\",1]}}");
        assertThat(t.metadata().toJson().path("security").toString()).isEqualTo("{\"support\":[\"speed\"]}");

        assertThatThrownBy(() -> MqttDriverType.parse(Json.object().put("name", "x"), "t")).hasMessageContaining("id is required");
        assertThatThrownBy(() -> MqttDriverType.parse(Json.object().put("id", "x").put("colour", "red"), "t")).hasMessageContaining("unknown key 'colour'");
        var badType = Json.object().put("id", "x");
        badType.putObject("functions").putObject("f").put("key", "a.b").putObject("params").put("p", "Int99");
        assertThatThrownBy(() -> MqttDriverType.parse(badType, "t")).hasMessageContaining("unknown type 'Int99'");
        var badKey = Json.object().put("id", "x");
        badKey.putObject("status").put("s", "a..b");
        assertThatThrownBy(() -> MqttDriverType.parse(badKey, "t")).hasMessageContaining("is not a routing key");
    }
}
