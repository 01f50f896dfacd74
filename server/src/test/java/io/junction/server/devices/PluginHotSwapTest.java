package io.junction.server.devices;

import io.junction.devices.plugins.PluginJars;
import io.junction.server.RunningServer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A driver jar built by the test, dropped into the plugins folder of a running server, replaced while a module runs it. */
class PluginHotSwapTest {

    @TempDir
    static Path dir;

    static Path plugins;

    @RegisterExtension
    static final RunningServer server = new RunningServer(() -> {
        plugins = Files.createDirectories(dir.resolve("plugins"));
        return DevicesClients.config(dir, """
                [devices]
                plugins = "%s"
                """.formatted(plugins.toString().replace("\\", "\\\\")));
    });

    static String admin;

    @BeforeAll
    static void start() throws Exception {
        admin = DevicesClients.login(server.http(), "admin", DevicesClients.ADMIN_PASSWORD);
    }

    static String answer() throws Exception {
        var r = call(server.http(), "POST", "/api/modules/answerer-1/exec/answer", "", admin);
        return r.status() == 200 ? r.json().path("result").asText() : r.status() + " " + r.text();
    }

    @Test
    void aDroppedJarIsLoadedReplacedWhileItsModuleRunsAndABrokenOneIsRejected() throws Exception {
        Path jar = plugins.resolve("answerer.jar");
        PluginJars.moveInto(PluginJars.driverJar("com.example.Answerer", "answerer", "v1"), jar);
        await().atMost(Duration.ofSeconds(20)).until(() -> call(server.http(), "GET", "/api/drivers/answerer", null, admin).status() == 200);
        var metadata = call(server.http(), "GET", "/api/drivers/answerer/metadata", null, admin).json();
        assertThat(metadata.path("implements").get(0).asText()).isEqualTo("Answering");
        assertThat(metadata.path("functions").path("greet").path("greeting").get(1).asText()).isEqualTo("hello");

        var created = call(server.http(), "POST", "/api/modules", "{\"id\": \"answerer-1\", \"driver\": \"answerer\"}", admin);
        assertThat(created.status()).as(created.text()).isEqualTo(201);
        assertThat(answer()).isEqualTo("v1");

        // Replace the jar: the running module restarts on the new code, without a server restart.
        PluginJars.copyInto(PluginJars.driverJar("com.example.Answerer", "answerer", "v2"), jar);
        await().atMost(Duration.ofSeconds(20)).until(() -> answer().equals("v2"));
        var greet = call(server.http(), "POST", "/api/modules/answerer-1/exec/greet", "{\"name\": \"ada\"}", admin);
        assertThat(greet.json().path("result").asText()).isEqualTo("hello ada from v2");

        // A broken jar is reported and the running version stays.
        PluginJars.moveInto("this is not a jar".getBytes(StandardCharsets.UTF_8), jar);
        await().atMost(Duration.ofSeconds(20)).until(() -> call(server.http(), "GET", "/api/plugins", null, admin).text().contains("error"));
        var drivers = call(server.http(), "GET", "/api/drivers", null, admin);
        assertThat(drivers.json().path("failures").toString()).contains("answerer.jar");
        assertThat(answer()).isEqualTo("v2");
        assertThat(call(server.http(), "GET", "/metrics", null, null).text()).contains("junction_plugins_failures");
    }
}
