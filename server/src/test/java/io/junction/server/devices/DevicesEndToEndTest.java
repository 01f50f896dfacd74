package io.junction.server.devices;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.server.Clients;
import io.junction.server.RunningServer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Drivers, modules, systems, bindings and exec end to end: one real server, real HTTP, WebSocket and MQTT clients. */
class DevicesEndToEndTest {

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(() -> DevicesClients.config(dir, ""));
    static String admin;
    static String alice;
    static String bob;

    @BeforeAll
    static void start() throws Exception {
        admin = DevicesClients.login(server.http(), "admin", DevicesClients.ADMIN_PASSWORD);
        for (String[] u : List.of(new String[]{"alice", "user"}, new String[]{"bob", "support"})) {
            var r = call(server.http(), "POST", "/api/users", Json.object().put("username", u[0]).put("password", u[0] + "-password")
                    .put("role", u[1]).toString(), admin);
            assertThat(r.status()).as(r.text()).isEqualTo(201);
        }
        alice = DevicesClients.login(server.http(), "alice", "alice-password");
        bob = DevicesClients.login(server.http(), "bob", "bob-password");
    }

    static String module(String id, String driver, String name, String settings) throws Exception {
        var r = call(server.http(), "POST", "/api/modules", """
                {"id": "%s", "driver": "%s", "name": "%s", "settings": %s}""".formatted(id, driver, name, settings), admin);
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return id;
    }

    static String system(String id, String... modules) throws Exception {
        var body = Json.object().put("id", id).put("name", id);
        var list = body.putArray("modules");
        for (String m : modules) {
            list.add(m);
        }
        var r = call(server.http(), "POST", "/api/systems", body.toString(), admin);
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return id;
    }

    @Test
    void driverMetadataHasTheDocumentedShape() throws Exception {
        var r = call(server.http(), "GET", "/api/drivers/virtual/metadata", null, alice);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().path("functions").path("add")).isEqualTo(Json.parse("{\"a\": [\"Int32\"], \"b\": [\"Int32\", 200]}"));
        assertThat(r.json().path("functions").path("set")).isEqualTo(Json.parse("{\"name\": [\"String\"], \"value\": [\"JSON\"]}"));
        assertThat(r.json().path("implements")).isEqualTo(Json.parse("[\"Powerable\"]"));
        assertThat(r.json().path("requirements")).isEqualTo(Json.parse("{}"));
        assertThat(r.json().path("security")).isEqualTo(Json.parse("{\"support\": [\"error_task\"], \"administrator\": [\"perform_task\"]}"));

        var light = call(server.http(), "GET", "/api/drivers/light/metadata", null, alice);
        assertThat(light.json().path("functions")).isEqualTo(Json.parse("{\"power\": {\"state\": [\"Bool\"]}}"));
        assertThat(call(server.http(), "GET", "/api/drivers/nope/metadata", null, alice).status()).isEqualTo(404);
    }

    @Test
    void aGenericDriverTurnsAnMqttPublishIntoAStatusChangeSeenByABoundSocket() throws Exception {
        module("bedroom-light", "light", "Light", "{\"room\": \"bedroom\"}");
        String sys = system("bedroom", "bedroom-light");
        try (var ws = new DevicesClients.Realtime(server.http(), alice)) {
            int id = ws.request("bind", sys, "Light", 1, "power", null);
            assertThat(ws.answer(id, 10).path("type").asText()).isEqualTo("success");
            assertThat(ws.notifyValue("Light", "power", 10)).isEqualTo(Json.parse("null"));

            var pub = Clients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "mesh/b5ea3f/42/power/status", "-m", "true");
            assertThat(pub.exit()).as(pub.output()).isZero();
            assertThat(ws.notifyValue("Light", "power", 10)).isEqualTo(Json.parse("true"));

            // exec through the device: the command reaches the device's command topic.
            try (var sub = new Clients.Sub(server.mqtt(), "-q", "1", "-t", "mesh/b5ea3f/42/#", "-v")) {
                Thread.sleep(300); // mosquitto_sub has no "subscribed" signal; give it a moment to subscribe
                int exec = ws.request("exec", sys, "Light", 1, "power", Json.parse("[false]"));
                JsonNode answer = ws.answer(exec, 10);
                assertThat(answer.path("type").asText()).as(answer.toString()).isEqualTo("success");
                assertThat(answer.path("value").path("key").asText()).isEqualTo("bedroom.light.power");
                assertThat(sub.next(10)).isEqualTo("mesh/b5ea3f/42/power/command {\"value\":false}");
            }
        }
    }

    @Test
    void aBindingFollowsTheModuleAtItsNameAndIndexWhenTheSystemIsReordered() throws Exception {
        String a = module("display-a", "virtual", "Display", "{}");
        String b = module("display-b", "virtual", "Display", "{}");
        String sys = system("boardroom", a, b);
        assertThat(call(server.http(), "POST", "/api/modules/" + a + "/exec/set", "{\"name\": \"input\", \"value\": \"hdmi\"}", admin).status()).isEqualTo(200);
        assertThat(call(server.http(), "POST", "/api/modules/" + b + "/exec/set", "{\"name\": \"input\", \"value\": \"vga\"}", admin).status()).isEqualTo(200);
        try (var ws = new DevicesClients.Realtime(server.http(), alice)) {
            ws.request("bind", sys, "Display", 1, "input", null);
            assertThat(ws.notifyValue("Display", "input", 10)).isEqualTo(Json.parse("\"hdmi\""));

            var r = call(server.http(), "PUT", "/api/systems/" + sys, "{\"modules\": [\"" + b + "\", \"" + a + "\"]}", admin);
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            assertThat(r.json().path("index").path("Display_1").asText()).isEqualTo(b);
            assertThat(ws.notifyValue("Display", "input", 10)).as("the binding now shows Display_1 = display-b").isEqualTo(Json.parse("\"vga\""));

            // A change on the module that left index 1 is not seen; one on the module now there is.
            call(server.http(), "POST", "/api/modules/" + a + "/exec/set", "{\"name\": \"input\", \"value\": \"dp\"}", admin);
            call(server.http(), "POST", "/api/modules/" + b + "/exec/set", "{\"name\": \"input\", \"value\": \"usb-c\"}", admin);
            assertThat(ws.notifyValue("Display", "input", 10)).isEqualTo(Json.parse("\"usb-c\""));

            // unbind: no more notifies for it
            int un = ws.request("unbind", sys, "Display", 1, "input", null);
            assertThat(ws.answer(un, 10).path("type").asText()).isEqualTo("success");
            call(server.http(), "POST", "/api/modules/" + b + "/exec/set", "{\"name\": \"input\", \"value\": \"hdmi2\"}", admin);
            assertThat(ws.notifyValue("Display", "input", 1)).isNull();
        }
    }

    @Test
    void execChecksArgumentsAgainstTheMetadata() throws Exception {
        String m = module("calc", "virtual", "Calc", "{}");
        String sys = system("lab", m);
        try (var ws = new DevicesClients.Realtime(server.http(), alice)) {
            JsonNode good = ws.answer(ws.request("exec", sys, "Calc", 1, "add", Json.parse("{\"a\": 1, \"b\": 2}")), 10);
            assertThat(good.path("type").asText()).isEqualTo("success");
            assertThat(good.path("value").asInt()).isEqualTo(3);

            JsonNode fallback = ws.answer(ws.request("exec", sys, "Calc", 1, "add", Json.parse("[5]")), 10);
            assertThat(fallback.path("value").asInt()).as("b defaults to 200").isEqualTo(205);

            JsonNode missing = ws.answer(ws.request("exec", sys, "Calc", 1, "add", Json.parse("{}")), 10);
            assertThat(missing.path("type").asText()).isEqualTo("error");
            assertThat(missing.path("code").asInt()).isEqualTo(1);
            assertThat(missing.path("msg").asText()).contains("missing argument a (Int32)");

            JsonNode wrong = ws.answer(ws.request("exec", sys, "Calc", 1, "add", Json.parse("{\"a\": \"one\"}")), 10);
            assertThat(wrong.path("code").asInt()).isEqualTo(1);
            assertThat(wrong.path("msg").asText()).contains("argument a must be Int32");

            JsonNode unknown = ws.answer(ws.request("exec", sys, "Calc", 1, "add", Json.parse("{\"a\": 1, \"c\": 2}")), 10);
            assertThat(unknown.path("msg").asText()).contains("unknown argument c");

            JsonNode noModule = ws.answer(ws.request("exec", sys, "Calc", 2, "add", Json.parse("[1]")), 10);
            assertThat(noModule.path("code").asInt()).isEqualTo(6);
            JsonNode noSystem = ws.answer(ws.request("exec", "nowhere", "Calc", 1, "add", Json.parse("[1]")), 10);
            assertThat(noSystem.path("code").asInt()).isEqualTo(5);
            JsonNode badCmd = ws.answer(ws.request("jump", sys, "Calc", 1, "add", null), 10);
            assertThat(badCmd.path("code").asInt()).isEqualTo(4);
        }
        var rest = call(server.http(), "POST", "/api/systems/lab/modules/Calc_1/add", "{\"a\": 40}", alice);
        assertThat(rest.status()).as(rest.text()).isEqualTo(200);
        assertThat(rest.json().path("result").asInt()).isEqualTo(240);
        var restBad = call(server.http(), "POST", "/api/systems/lab/modules/Calc_1/add", "{\"a\": true}", alice);
        assertThat(restBad.status()).isEqualTo(400);
        assertThat(restBad.json().path("detail").asText()).contains("argument a must be Int32");
    }

    @Test
    void aSupportFunctionIsRefusedToAUserAndAllowedToSupportAndAdministrator() throws Exception {
        String m = module("projector", "virtual", "Projector", "{}");
        String sys = system("theatre", m);
        try (var user = new DevicesClients.Realtime(server.http(), alice); var support = new DevicesClients.Realtime(server.http(), bob);
             var administrator = new DevicesClients.Realtime(server.http(), admin)) {
            JsonNode denied = user.answer(user.request("exec", sys, "Projector", 1, "error_task", null), 10);
            assertThat(denied.path("type").asText()).isEqualTo("error");
            assertThat(denied.path("code").asInt()).isEqualTo(2);
            assertThat(denied.path("msg").asText()).contains("needs the role support").contains("alice");

            assertThat(support.answer(support.request("exec", sys, "Projector", 1, "error_task", null), 10).path("value").asText()).isEqualTo("cleared");
            assertThat(administrator.answer(administrator.request("exec", sys, "Projector", 1, "error_task", null), 10).path("type").asText()).isEqualTo("success");

            JsonNode adminOnly = support.answer(support.request("exec", sys, "Projector", 1, "perform_task", null), 10);
            assertThat(adminOnly.path("code").asInt()).isEqualTo(2);
        }
        assertThat(call(server.http(), "POST", "/api/systems/theatre/modules/Projector_1/error_task", "", alice).status()).isEqualTo(403);
        assertThat(call(server.http(), "POST", "/api/systems/theatre/modules/Projector_1/error_task", "", bob).status()).isEqualTo(200);
        // Changing the model needs support: a user may read but not create.
        assertThat(call(server.http(), "POST", "/api/modules", "{\"driver\": \"virtual\"}", alice).status()).isEqualTo(403);
        assertThat(call(server.http(), "GET", "/api/modules", null, alice).status()).isEqualTo(200);
    }

    @Test
    void theRealtimeSocketNeedsAToken() throws Exception {
        var refused = DevicesClients.HTTP.newWebSocketBuilder()
                .buildAsync(java.net.URI.create("ws://127.0.0.1:" + server.http() + "/api/engine/v2/websocket"), new java.net.http.WebSocket.Listener() { });
        assertThat(refused).failsWithin(10, TimeUnit.SECONDS);

        // A browser front-end's way: the token in a bearer_token cookie.
        var frames = new java.util.concurrent.LinkedBlockingQueue<String>();
        var cookie = DevicesClients.HTTP.newWebSocketBuilder().header("Cookie", "theme=dark; bearer_token=" + alice)
                .buildAsync(java.net.URI.create("ws://127.0.0.1:" + server.http() + "/api/engine/v2/systems/control"), new java.net.http.WebSocket.Listener() {
                    @Override
                    public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket ws, CharSequence data, boolean last) {
                        frames.add(data.toString());
                        ws.request(1);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        cookie.sendText("ping", true).join();
        assertThat(frames.poll(10, TimeUnit.SECONDS)).isEqualTo("pong");
        cookie.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "done");
        // REST routes never take the cookie.
        var rest = DevicesClients.HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.http() + "/api/modules"))
                .header("Cookie", "bearer_token=" + alice).GET().build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(rest.statusCode()).isEqualTo(401);
    }

    @Test
    void debugStreamsAModulesLogLines() throws Exception {
        String m = module("speaker", "virtual", "Speaker", "{}");
        String sys = system("hall", m);
        try (var ws = new DevicesClients.Realtime(server.http(), admin)) {
            var req = Json.object().put("id", 99).put("cmd", "debug").put("sys", sys).put("mod", "Speaker").put("index", 1);
            ws.socket.sendText(req.toString(), true).join();
            assertThat(ws.answer(99, 10).path("type").asText()).isEqualTo("success");
            call(server.http(), "POST", "/api/modules/" + m + "/exec/power", "{\"state\": true}", admin);
            JsonNode line = ws.next(f -> f.path("type").asText().equals("debug"), 10);
            assertThat(line).isNotNull();
            assertThat(line.path("msg").asText()).isEqualTo("power on");
            assertThat(line.path("mod").asText()).isEqualTo(m);
        }
    }

    @Test
    void closingTheSocketEndsAllItsBindings() throws Exception {
        String m = module("lamp", "virtual", "Lamp", "{}");
        String sys = system("porch", m);
        var ws = new DevicesClients.Realtime(server.http(), alice);
        ws.answer(ws.request("bind", sys, "Lamp", 1, "power", null), 10);
        ws.answer(ws.request("bind", sys, "Lamp", 1, "level", null), 10);
        await().atMost(Duration.ofSeconds(10)).until(() -> bindings() >= 2);
        ws.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> bindings() == 0);
    }

    @Test
    void moduleLifecycleIsPublishedOnTheHub() throws Exception {
        try (var events = new Clients.Ws(server.http())) {
            events.send("{\"op\": \"subscribe\", \"pattern\": \"devices.#\", \"source\": \"events\"}");
            assertThat(events.next("subscribed", 10)).isNotNull();
            module("heater", "virtual", "Heater", "{}");
            JsonNode started = events.next("event", f -> f.path("key").asText().equals("devices.module.started"), 10);
            assertThat(started).isNotNull();
            assertThat(started.path("event").path("id").asText()).isEqualTo("heater");
            call(server.http(), "POST", "/api/modules/heater/stop", "", admin);
            assertThat(events.next("event", f -> f.path("key").asText().equals("devices.module.stopped"), 10)).isNotNull();
        }
    }

    static double bindings() throws Exception {
        for (String line : call(server.http(), "GET", "/metrics", null, null).text().split("\n")) {
            if (line.startsWith("junction_devices_bindings ")) {
                return Double.parseDouble(line.substring(line.indexOf(' ') + 1));
            }
        }
        throw new AssertionError("junction_devices_bindings is not in /metrics");
    }
}
