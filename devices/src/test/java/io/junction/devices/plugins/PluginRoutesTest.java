package io.junction.devices.plugins;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.http.Access;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.devices.driver.DriverCatalog;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PluginRoutesTest {

    @TempDir
    Path dir;

    @Test
    void getPluginsListsLoadedAndFailedJars() throws Exception {
        Files.write(dir.resolve("answer.jar"), PluginJars.driverJar("com.acme.Answer", "acme-answer", "one"));
        Files.write(dir.resolve("broken.jar"), "garbage".getBytes(StandardCharsets.UTF_8));
        DriverCatalog catalog = new DriverCatalog(Clock.systemUTC());
        try (PluginLoader loader = new PluginLoader(dir, catalog, new SimpleMeterRegistry()).start()) {
            RouteTable table = new RouteTable();
            new PluginRoutes(loader).register(table);

            RouteTable.Lookup lookup = table.lookup("GET", "/api/plugins");
            assertThat(lookup).isInstanceOf(RouteTable.Found.class);
            RouteTable.Found found = (RouteTable.Found) lookup;
            assertThat(found.access()).isEqualTo(Access.USER);
            ApiResponse response = found.handler().handle(new ApiRequest(Method.GET, "/api/plugins", Map.of(), Map.of(), Map.of(), new byte[0]));

            assertThat(response.status()).isEqualTo(200);
            assertThat(response.contentType()).isEqualTo(ApiResponse.JSON);
            JsonNode list = Json.MAPPER.readTree(response.body());
            assertThat(list).hasSize(2);
            JsonNode answer = list.get(0);
            assertThat(answer.get("file").asText()).isEqualTo("answer.jar");
            assertThat(answer.get("version").asInt()).isEqualTo(1);
            assertThat(answer.get("checksum").asText()).hasSize(64).isEqualTo(loader.plugins().getFirst().checksum());
            assertThat(answer.get("drivers").get(0).asText()).isEqualTo("acme-answer");
            assertThat(Instant.parse(answer.get("loadedAt").asText())).isBeforeOrEqualTo(Instant.now());
            assertThat(answer.has("error")).isFalse();
            JsonNode broken = list.get(1);
            assertThat(broken.get("file").asText()).isEqualTo("broken.jar");
            assertThat(broken.get("version").asInt()).isZero();
            assertThat(broken.get("drivers")).isEmpty();
            assertThat(broken.has("loadedAt")).isFalse();
            assertThat(broken.get("error").asText()).startsWith("v1 not loaded: is not a jar (zip) file");
        }
    }
}
