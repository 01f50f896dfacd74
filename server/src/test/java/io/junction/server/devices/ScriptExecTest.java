package io.junction.server.devices;

import io.junction.core.Json;
import io.junction.server.Clients;
import io.junction.server.RunningServer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Scripts calling functions on modules: a device's message drives another module, as the script's owner. */
class ScriptExecTest {

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(() -> DevicesClients.config(dir, ""));
    static String admin;
    static String sam;

    @BeforeAll
    static void start() throws Exception {
        admin = DevicesClients.login(server.http(), "admin", DevicesClients.ADMIN_PASSWORD);
        call(server.http(), "POST", "/api/users", "{\"username\": \"sam\", \"password\": \"sam-password\", \"role\": \"support\"}", admin);
        sam = DevicesClients.login(server.http(), "sam", "sam-password");
        assertThat(call(server.http(), "POST", "/api/modules", "{\"id\": \"fan\", \"driver\": \"virtual\", \"name\": \"Fan\"}", admin).status()).isEqualTo(201);
        assertThat(call(server.http(), "POST", "/api/systems", "{\"id\": \"attic\", \"name\": \"Attic\", \"modules\": [\"fan\"]}", admin).status()).isEqualTo(201);
    }

    static String put(String name, String language, String source, String bind, String token) throws Exception {
        var body = Json.object().put("language", language).put("source", source);
        body.putArray("bind").add(bind);
        var r = call(server.http(), "PUT", "/api/scripts/" + name, body.toString(), token);
        assertThat(r.status()).as(r.text()).isIn(200, 201);
        return name;
    }

    @Test
    void aJavaScriptScriptTurnsAModuleOnFromADevicesMessage() throws Exception {
        put("fan-on-heat", "javascript", """
                function process(m) {
                  const on = junction.exec('attic/Fan_1', 'power', {state: m.body.value > 30});
                  return {key: 'attic.fan.auto', body: {on: on}};
                }""", "attic.sensor.temperature", admin);
        var pub = Clients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "attic/sensor/temperature", "-m", "35");
        assertThat(pub.exit()).as(pub.output()).isZero();
        await().atMost(Duration.ofSeconds(20)).until(() -> call(server.http(), "GET", "/api/modules/fan/status", null, admin).json().path("power").asBoolean());
    }

    @Test
    void aPythonScriptCallsByModuleIdAndGetsTheResult() throws Exception {
        put("py-add", "python", """
                def process(m):
                    r = junction.exec("fan", "add", {"a": m["body"]["value"]})
                    junction.exec("fan", "set", {"name": "sum", "value": r})
                """, "attic.sensor.count", admin);
        Clients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "attic/sensor/count", "-m", "5");
        await().atMost(Duration.ofSeconds(30)).until(() -> call(server.http(), "GET", "/api/modules/fan/status", null, admin).json().path("sum").asInt() == 205);
    }

    @Test
    void aScriptsExecRunsWithItsOwnersRole() throws Exception {
        // Stored by a support engineer: it may call support functions, not administrator ones.
        put("maintain", "javascript", """
                function process(m) { junction.exec('fan', 'error_task', null); junction.exec('fan', 'perform_task', null); }""",
                "attic.sensor.alarm", sam);
        Clients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "attic/sensor/alarm", "-m", "1");
        var script = call(server.http(), "GET", "/api/scripts/maintain", null, admin).json();
        assertThat(script.path("owner").toString()).isEqualTo("{\"user\":\"sam\",\"role\":\"support\"}");
        await().atMost(Duration.ofSeconds(20)).until(() -> call(server.http(), "GET", "/api/scripts/maintain", null, admin).json()
                .path("lastError").path("reason").asText().contains("needs the role administrator; user 'sam' has support"));
        var status = call(server.http(), "GET", "/api/modules/fan/status", null, admin).json();
        assertThat(status.path("error").asBoolean(true)).as("error_task ran as sam (support)").isFalse();
        assertThat(status.has("task")).as("perform_task was refused").isFalse();
    }
}
