package io.junction.server.devices;

import io.junction.core.Json;
import io.junction.server.Junction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the device model keeps across a restart of a real server (state in SQLite, module status behind the status
 * port), and the one-time import of a data directory written by an earlier version.
 */
class DevicesRestartTest {

    @TempDir
    Path dir;

    @Test
    void driversModulesSystemsAndStatusMadeThroughTheApiSurviveARestart() throws Exception {
        var fan = Json.object().put("id", "fan").put("name", "Fan");
        fan.putObject("functions").putObject("spin").put("key", "attic.fan.spin");
        try (Junction node = Junction.start(DevicesClients.config(dir, ""))) {
            int http = node.httpPort();
            String admin = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            assertThat(call(http, "POST", "/api/drivers", fan.toString(), admin).status()).isEqualTo(201);
            assertThat(call(http, "POST", "/api/modules", "{\"id\": \"fan-1\", \"driver\": \"fan\"}", admin).status()).isEqualTo(201);
            assertThat(call(http, "POST", "/api/modules", "{\"id\": \"display\", \"driver\": \"virtual\", \"name\": \"Display\"}", admin).status())
                    .isEqualTo(201);
            assertThat(call(http, "POST", "/api/systems", "{\"id\": \"attic\", \"name\": \"Attic\", \"modules\": [\"fan-1\", \"display\"]}", admin)
                    .status()).isEqualTo(201);
            assertThat(call(http, "POST", "/api/modules/display/exec/set", "{\"name\": \"input\", \"value\": \"hdmi\"}", admin).status())
                    .isEqualTo(200);
        }
        assertThat(dir.resolve("data/devices/model.json")).as("nothing is written beside the state any more").doesNotExist();

        try (Junction node = Junction.start(DevicesClients.config(dir, ""))) {
            int http = node.httpPort();
            String admin = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            var driver = call(http, "GET", "/api/drivers/fan", null, admin);
            assertThat(driver.status()).as("a driver defined through the API is still there").isEqualTo(200);
            assertThat(driver.json().path("source").asText()).isEqualTo("api");
            var display = call(http, "GET", "/api/modules/display", null, admin).json();
            assertThat(display.path("running").asBoolean()).isTrue();
            assertThat(display.path("status").path("input").asText()).isEqualTo("hdmi");
            assertThat(call(http, "GET", "/api/systems/attic", null, admin).json().path("index").path("Display_1").asText())
                    .isEqualTo("display");
            var spin = call(http, "POST", "/api/systems/attic/modules/Fan_1/spin", "", admin);
            assertThat(spin.status()).as(spin.text()).isEqualTo(200);
            assertThat(spin.json().path("result").path("key").asText()).isEqualTo("attic.fan.spin");
        }
    }

    @Test
    void theDeviceFilesOfAnEarlierVersionAreImportedOnce() throws Exception {
        Path devices = Files.createDirectories(dir.resolve("data/devices"));
        Files.writeString(devices.resolve("model.json"), """
                {"modules": [{"id": "lamp", "name": "Lamp", "driver": "virtual", "settings": {}, "running": true}],
                 "systems": [{"id": "porch", "name": "Porch", "modules": ["lamp"]}]}""");
        Files.writeString(devices.resolve("status.json"), "{\"lamp\": {\"power\": true}}");
        try (Junction node = Junction.start(DevicesClients.config(dir, ""))) {
            int http = node.httpPort();
            String admin = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            var lamp = call(http, "GET", "/api/systems/porch/modules/Lamp_1", null, admin).json();
            assertThat(lamp.path("id").asText()).isEqualTo("lamp");
            assertThat(lamp.path("running").asBoolean()).isTrue();
            assertThat(lamp.path("status").path("power").asBoolean()).isTrue();
        }
        assertThat(devices.resolve("model.json.imported")).exists();
        assertThat(devices.resolve("status.json.imported")).exists();
        assertThat(devices.resolve("model.json")).doesNotExist();
    }
}
