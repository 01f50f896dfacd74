package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.testing.MutableClock;
import io.junction.devices.driver.DriverCatalog;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The jobs routes as the HTTP endpoint calls them: looked up in a {@link RouteTable} by method and raw path (with its
 * query), given the caller the endpoint authenticated (the endpoint's own 401/403 for {@link Access} are the API
 * server's tests).
 */
class JobRoutesTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(JobsTest.T0);
    final DriverCatalog drivers = new DriverCatalog(clock);
    final FakeModules modules = new FakeModules(clock, drivers);
    final RouteTable routes = new RouteTable();
    Jobs jobs;

    static final Principal ALICE = JobsTest.ALICE;

    @BeforeEach
    void setUp() {
        drivers.put(new PumpDriver());
        modules.add("pump-1", PumpDriver.ID);
        jobs = Jobs.builder(dir, modules, drivers)
                .configJobs(List.of(JobsTest.def(JobsTest.WATER, "junction.toml:12"), JobsTest.def(JobsTest.FLUSH, "junction.toml:30")))
                .clock(clock).metrics(new SimpleMeterRegistry()).tick(Duration.ofMillis(5)).build().start();
        jobs.register(routes);
    }

    @AfterEach
    void tearDown() {
        jobs.close();
    }

    private record Reply(int status, JsonNode json) {
    }

    private Reply call(Method method, String target, Principal caller, String body) throws Exception {
        String path = target.contains("?") ? target.substring(0, target.indexOf('?')) : target;
        Map<String, List<String>> query = new LinkedHashMap<>();
        if (target.contains("?")) {
            for (String kv : target.substring(target.indexOf('?') + 1).split("&")) {
                String[] p = kv.split("=", 2);
                query.computeIfAbsent(p[0], k -> new ArrayList<>()).add(p.length > 1 ? p[1] : "");
            }
        }
        RouteTable.Lookup lookup = routes.lookup(method.name(), path);
        assertThat(lookup).as(method + " " + path).isInstanceOf(RouteTable.Found.class);
        RouteTable.Found f = (RouteTable.Found) lookup;
        assertThat(f.access()).isEqualTo(Access.USER);
        ApiRequest request = new ApiRequest(method, path, f.pathParams(), query, Map.of(),
                body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8), Optional.of(caller));
        ApiResponse response;
        try {
            response = f.handler().handle(request);
        } catch (ApiException e) {
            response = e.toResponse();
        }
        return new Reply(response.status(), Json.parse(response.bodyText()));
    }

    @Test
    void aJobIsStartedListedTracedAndCancelled() throws Exception {
        Reply started = call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"water\", \"args\": {\"duration\": \"2s\"}}");
        assertThat(started.status()).as(started.json().toString()).isEqualTo(201);
        String id = started.json().get("id").asText();
        assertThat(started.json().get("state").asText()).isEqualTo("running");
        assertThat(started.json().get("caller").asText()).isEqualTo("alice");
        assertThat(started.json().get("deadline").asText()).isEqualTo("2026-03-01T08:00:02Z");
        assertThat(started.json().get("steps").get(1).get("wait").asText()).isEqualTo("2s");

        Reply list = call(Method.GET, "/api/jobs?state=running", ALICE, null);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.json().get("count").asInt()).isEqualTo(1);
        assertThat(list.json().get("jobs").get(0).get("id").asText()).isEqualTo(id);
        assertThat(list.json().get("jobs").get(0).has("steps")).as("a list has no traces").isFalse();
        assertThat(call(Method.GET, "/api/jobs?state=done", ALICE, null).json().get("count").asInt()).isZero();

        await().atMost(10, TimeUnit.SECONDS).until(() -> call(Method.GET, "/api/jobs/" + id, ALICE, null)
                .json().get("steps").get(0).get("status").asText().equals("done"));
        Reply trace = call(Method.GET, "/api/jobs/" + id, ALICE, null);
        JsonNode step0 = trace.json().get("steps").get(0);
        assertThat(step0.get("call").asText()).isEqualTo("power");
        assertThat(step0.get("due").asText()).isEqualTo("2026-03-01T08:00:00Z");
        assertThat(step0.get("began").asText()).isEqualTo("2026-03-01T08:00:00Z");
        assertThat(step0.get("result").toString()).isEqualTo("{\"ok\":true}");
        assertThat(trace.json().get("next").asText()).isEqualTo("2026-03-01T08:00:02Z");

        Reply cancelled = call(Method.DELETE, "/api/jobs/" + id, ALICE, null);
        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("state").asText()).isEqualTo("cancelled");
        assertThat(cancelled.json().get("events").get(0).get("kind").asText()).isEqualTo("neutral");
        assertThat(modules.calls(c -> c.is("power", "state", false))).hasSize(1);

        Reply again = call(Method.DELETE, "/api/jobs/" + id, ALICE, null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("detail").asText()).startsWith("job " + id + " has already ended (cancelled at");
    }

    @Test
    void badRequestsGetClearErrors() throws Exception {
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-9\", \"job\": \"water\"}"), 404,
                "there is no module 'pump-9'");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"drain\"}"), 404,
                "module pump-1 (driver garden-pump) offers no job 'drain'; it offers flush, water");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"water\", \"args\": {\"duration\": 5}}"), 400,
                "job water on module pump-1: argument duration must be " + Durations.EXPECTED + ", got 5 (number)");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"water\", \"args\": [1]}"), 400,
                "args must be a JSON object of param = value, as in {\"duration\": \"5m\"}");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"job\": \"water\"}"), 400,
                "module must be the id of the module to run the job on, as in \"pump-1\"; it is missing");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"water\", \"when\": 1}"), 400,
                "unknown key 'when'; the body has module, job and args");
        assertError(call(Method.POST, "/api/jobs", ALICE, "[]"), 400, "the body must be a JSON object such as");
        assertError(call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"flush\"}"), 403,
                "job flush calls pump-1.purge, which needs the role support; user 'alice' has user");
        assertError(call(Method.GET, "/api/jobs/nope", ALICE, null), 404, "there is no job 'nope'");
        assertError(call(Method.DELETE, "/api/jobs/nope", ALICE, null), 404, "there is no job 'nope'");
        assertError(call(Method.GET, "/api/jobs?state=sleeping", ALICE, null), 400, "state 'sleeping' is not one of running");
        assertError(call(Method.GET, "/api/jobs?limit=0", ALICE, null), 400, "limit must be a whole number from 1 to 10000");
        assertError(call(Method.GET, "/api/jobs/definitions?module=pump-9", ALICE, null), 404, "there is no module 'pump-9'");
        assertThat(modules.all()).as("nothing ran").isEmpty();
    }

    @Test
    void theJobsAModuleOffersAreListedWithTheirShapeAndWhere() throws Exception {
        Reply r = call(Method.GET, "/api/jobs/definitions?module=pump-1", ALICE, null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().get("driver").asText()).isEqualTo("garden-pump");
        JsonNode water = r.json().get("jobs").get(1);
        assertThat(water.get("name").asText()).isEqualTo("water");
        assertThat(water.get("where").asText()).isEqualTo("junction.toml:12");
        assertThat(water.get("params").toString()).isEqualTo("{\"duration\":[\"Duration\",\"5m\"]}");
        assertThat(water.get("neutral").toString()).isEqualTo("[{\"call\":\"power\",\"args\":{\"state\":false}}]");

        Reply all = call(Method.GET, "/api/jobs/definitions", ALICE, null);
        assertThat(all.json().get("drivers").get("garden-pump").get("jobs")).hasSize(2);
        assertThat(all.json().get("drivers").get("garden-pump").get("problems")).isEmpty();
    }

    @Test
    void supportMayCancelAnyonesJobButAnotherUserMayNot() throws Exception {
        String id = call(Method.POST, "/api/jobs", ALICE, "{\"module\": \"pump-1\", \"job\": \"water\"}").json().get("id").asText();
        assertError(call(Method.DELETE, "/api/jobs/" + id, new Principal("bob", Role.USER), null), 403,
                "job " + id + " was started by 'alice'; only they, support and administrators may cancel it");
        assertThat(call(Method.DELETE, "/api/jobs/" + id, new Principal("sam", Role.SUPPORT), null).json().get("reason").asText())
                .isEqualTo("cancelled by sam");
    }

    private static void assertError(Reply r, int status, String detail) {
        assertThat(r.status()).as(r.json().toString()).isEqualTo(status);
        assertThat(r.json().get("detail").asText()).startsWith(detail);
    }
}
