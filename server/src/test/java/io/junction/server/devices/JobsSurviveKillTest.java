package io.junction.server.devices;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.testing.Tools;
import io.junction.server.ServerProcess;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

import static io.junction.server.devices.DevicesClients.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Durable jobs against a server in a child JVM: a running job survives {@code kill -9} — its current step is re-applied,
 * no step runs twice, and it ends on time — and a cancelled job leaves its device in the neutral state.
 */
class JobsSurviveKillTest {

    @TempDir
    Path dir;

    Path config(int mqtt, int http) throws Exception {
        return ServerProcess.writeConfig(dir, mqtt, http, "always", """
                [[jobs]]
                name = "water"
                driver = "virtual"
                params = { duration = ["Duration", "5m"] }
                steps = [ { call = "power", args = { state = true } }, { wait = "{duration}" }, { call = "power", args = { state = false } } ]
                neutral = [ { call = "power", args = { state = false } } ]
                """);
    }

    static boolean power(int http, String token) throws Exception {
        return call(http, "GET", "/api/modules/pump/status", null, token).json().path("power").asBoolean(false);
    }

    @Test
    void aJobSurvivesKill9ReappliesItsStepAndEndsOnTime() throws Exception {
        int mqtt = Tools.freePort();
        int http = Tools.freePort();
        Path config = config(mqtt, http);
        Process first = ServerProcess.start(config, dir.resolve("first.log"));
        String jobId;
        Instant deadline;
        try {
            ServerProcess.awaitHealthy(http, first, dir.resolve("first.log"));
            String token = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            assertThat(call(http, "POST", "/api/modules", "{\"id\": \"pump\", \"driver\": \"virtual\", \"name\": \"Pump\"}", token).status()).isEqualTo(201);
            var started = call(http, "POST", "/api/jobs", "{\"module\": \"pump\", \"job\": \"water\", \"args\": {\"duration\": \"8s\"}}", token);
            assertThat(started.status()).as(started.text()).isEqualTo(201);
            jobId = started.json().path("id").asText();
            deadline = Instant.parse(started.json().path("deadline").asText());
            await().atMost(Duration.ofSeconds(10)).until(() -> power(http, token));
        } finally {
            first.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown hook, no neutral calls
        }

        Process second = ServerProcess.start(config, dir.resolve("second.log"));
        try {
            ServerProcess.awaitHealthy(http, second, dir.resolve("second.log"));
            String token = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            // The module that was running runs again, and the devices component says it is ready.
            assertThat(call(http, "GET", "/api/modules/pump", null, token).json().path("running").asBoolean()).isTrue();
            assertThat(call(http, "GET", "/api/health", null, null).json().path("components").toString())
                    .contains("{\"name\":\"devices\",\"status\":\"ready\"");
            JsonNode job = call(http, "GET", "/api/jobs/" + jobId, null, token).json();
            assertThat(job.path("state").asText()).as(job.toString()).isEqualTo("running");
            assertThat(power(http, token)).as("the current step (pump on) is re-applied").isTrue();
            assertThat(job.path("events").toString()).contains("reapply");

            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !call(http, "GET", "/api/jobs/" + jobId, null, token).json().path("state").asText().equals("running"));
            Instant ended = Instant.now();
            JsonNode done = call(http, "GET", "/api/jobs/" + jobId, null, token).json();
            assertThat(done.path("state").asText()).as(done.toString()).isEqualTo("done");
            assertThat(Duration.between(deadline, ended).abs()).as("ends at its deadline " + deadline).isLessThan(Duration.ofSeconds(3));
            assertThat(power(http, token)).isFalse();
            // Each step ran once: the first call began once (before the kill), the last once (after).
            JsonNode steps = done.path("steps");
            assertThat(steps.get(0).path("status").asText()).isEqualTo("done");
            assertThat(steps.get(2).path("status").asText()).isEqualTo("done");
            assertThat(done.path("events").toString().split("\"reapply\"", -1).length - 1).as("re-applied once").isEqualTo(1);
        } finally {
            second.destroy();
            second.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aCancelledJobLeavesThePumpOff() throws Exception {
        int mqtt = Tools.freePort();
        int http = Tools.freePort();
        Process server = ServerProcess.start(config(mqtt, http), dir.resolve("server.log"));
        try {
            ServerProcess.awaitHealthy(http, server, dir.resolve("server.log"));
            String token = DevicesClients.login(http, "admin", DevicesClients.ADMIN_PASSWORD);
            call(http, "POST", "/api/modules", "{\"id\": \"pump\", \"driver\": \"virtual\", \"name\": \"Pump\"}", token);
            var started = call(http, "POST", "/api/jobs", "{\"module\": \"pump\", \"job\": \"water\", \"args\": {\"duration\": \"10m\"}}", token);
            String id = started.json().path("id").asText();
            await().atMost(Duration.ofSeconds(10)).until(() -> power(http, token));
            var cancelled = call(http, "DELETE", "/api/jobs/" + id, null, token);
            assertThat(cancelled.status()).as(cancelled.text()).isEqualTo(200);
            assertThat(cancelled.json().path("state").asText()).isEqualTo("cancelled");
            assertThat(power(http, token)).isFalse();
            assertThat(call(http, "GET", "/api/jobs?state=running", null, token).json().path("count").asInt()).isZero();
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
