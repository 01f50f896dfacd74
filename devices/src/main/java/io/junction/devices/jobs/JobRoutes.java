package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.actor.ActorException;
import io.junction.core.auth.Principal;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The jobs API: start a job on a module, list jobs, read one job's trace, cancel one, and list the jobs a module
 * offers. Starting and cancelling need a user; steps run as that user, so a function's security applies.
 */
public final class JobRoutes {

    private static final long START_WAIT_MILLIS = 15_000;
    private static final long CANCEL_WAIT_MILLIS = 30_000;
    private static final int MAX_LIMIT = 10_000;

    private final Jobs jobs;

    public JobRoutes(Jobs jobs) {
        this.jobs = jobs;
    }

    public void register(RouteTable routes) {
        routes.add(Method.POST, "/api/jobs", Access.USER, this::start);
        routes.add(Method.GET, "/api/jobs", Access.USER, this::list);
        routes.add(Method.GET, "/api/jobs/definitions", Access.USER, this::definitions);
        routes.add(Method.GET, "/api/jobs/{id}", Access.USER, this::get);
        routes.add(Method.DELETE, "/api/jobs/{id}", Access.USER, this::cancel);
    }

    /** {@code POST /api/jobs {"module": "pump-1", "job": "water", "args": {"duration": "2s"}}} → 201 with the job. */
    private ApiResponse start(ApiRequest r) {
        JsonNode body = r.bodyJson();
        if (!body.isObject()) {
            throw ApiException.badRequest("the body must be a JSON object such as {\"module\": \"pump-1\", \"job\": \"water\", \"args\": {\"duration\": \"5m\"}}");
        }
        Set<String> keys = Set.of("module", "job", "args");
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!keys.contains(k)) {
                throw ApiException.badRequest("unknown key '" + k + "'; the body has module, job and args");
            }
        }
        String module = text(body, "module", "the id of the module to run the job on, as in \"pump-1\"");
        String job = text(body, "job", "the name of a job the module offers, as in \"water\" (see GET /api/jobs/definitions?module=...)");
        JsonNode args = body.path("args");
        if (!args.isMissingNode() && !args.isNull() && !args.isObject()) {
            throw ApiException.badRequest("args must be a JSON object of param = value, as in {\"duration\": \"5m\"}");
        }
        JobView view = await(jobs.startJob(caller(r), module, job, args), START_WAIT_MILLIS, "starting the job");
        return ApiResponse.json(201, view.toJson(true));
    }

    /** {@code GET /api/jobs?state=running&module=pump-1&limit=100} → {@code {"jobs": [...], "count": n}}, newest first. */
    private ApiResponse list(ApiRequest r) {
        Optional<JobState> state = r.query("state").map(s -> JobState.parse(s).orElseThrow(() -> ApiException.badRequest(
                "state '" + s + "' is not one of running, stopping, done, failed, cancelled, module-stopped, expired")));
        Optional<String> module = r.query("module").filter(m -> !m.isBlank());
        int limit = r.query("limit").map(JobRoutes::limit).orElse(100);
        List<JobView> list = await(jobs.list(state, module, limit), 10_000, "listing jobs");
        ObjectNode o = Json.object();
        ArrayNode a = o.putArray("jobs");
        for (JobView v : list) {
            a.add(v.toJson(false));
        }
        o.put("count", list.size());
        return ApiResponse.json(o);
    }

    /** {@code GET /api/jobs/{id}} → the job with its trace. */
    private ApiResponse get(ApiRequest r) {
        String id = r.pathParam("id");
        Optional<JobView> v = await(jobs.get(id), 10_000, "reading the job");
        return ApiResponse.json(v.orElseThrow(() -> ApiException.notFound("there is no job '" + id
                + "' (ended jobs are kept for a while; see GET /api/jobs)")).toJson(true));
    }

    /** {@code DELETE /api/jobs/{id}} → 200 with the job once its neutral calls ran, or 202 while they still run. */
    private ApiResponse cancel(ApiRequest r) {
        String id = r.pathParam("id");
        CompletableFuture<JobView> f = jobs.cancel(caller(r), id);
        try {
            return ApiResponse.json(f.get(CANCEL_WAIT_MILLIS, TimeUnit.MILLISECONDS).toJson(true));
        } catch (TimeoutException e) {
            Optional<JobView> now = await(jobs.get(id), 10_000, "reading the job");
            return ApiResponse.json(202, now.map(v -> v.toJson(true)).orElse(Json.object().put("id", id)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "service unavailable", "interrupted while cancelling job " + id);
        } catch (ExecutionException e) {
            throw translate(e.getCause());
        }
    }

    /**
     * {@code GET /api/jobs/definitions?module=pump-1} → {@code {"module", "driver", "jobs": [...]}}; without a module,
     * {@code {"drivers": {"garden-pump": {"jobs": [...], "problems": [...]}}}}.
     */
    private ApiResponse definitions(ApiRequest r) {
        Optional<String> module = r.query("module").filter(m -> !m.isBlank());
        ObjectNode o = Json.object();
        if (module.isPresent()) {
            List<JobDefinition> defs;
            try {
                defs = jobs.definitions(module.get());
            } catch (JobException e) {
                throw translate(e);
            }
            String driver = jobs.driverOf(module.get()).orElse("");
            o.put("module", module.get());
            o.put("driver", driver);
            o.set("jobs", definitionsJson(defs));
            return ApiResponse.json(o);
        }
        ObjectNode ds = o.putObject("drivers");
        for (Map.Entry<String, List<JobDefinition>> e : jobs.definitions().entrySet()) {
            ObjectNode d = ds.putObject(e.getKey());
            d.set("jobs", definitionsJson(e.getValue()));
            ArrayNode p = d.putArray("problems");
            jobs.problems(e.getKey()).forEach(p::add);
        }
        return ApiResponse.json(o);
    }

    private static ArrayNode definitionsJson(List<JobDefinition> defs) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (JobDefinition d : defs) {
            ObjectNode j = d.toJson();
            j.put("where", d.where());
            a.add(j);
        }
        return a;
    }

    private static Principal caller(ApiRequest r) {
        return r.caller().orElse(Principal.SYSTEM);
    }

    private static String text(JsonNode body, String key, String expected) {
        JsonNode v = body.get(key);
        if (v == null || !v.isTextual() || v.asText().isBlank()) {
            throw ApiException.badRequest(key + " must be " + expected + (v == null ? "; it is missing" : ", got " + v));
        }
        return v.asText();
    }

    private static int limit(String text) {
        try {
            int n = Integer.parseInt(text.trim());
            if (n >= 1 && n <= MAX_LIMIT) {
                return n;
            }
        } catch (NumberFormatException e) {
            // falls through
        }
        throw ApiException.badRequest("limit must be a whole number from 1 to " + MAX_LIMIT + ", got '" + text + "'");
    }

    private static <T> T await(CompletableFuture<T> f, long millis, String what) {
        try {
            return f.get(millis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new ApiException(503, "service unavailable", "the job manager did not answer within " + millis + " ms while " + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "service unavailable", "interrupted while " + what);
        } catch (ExecutionException e) {
            throw translate(e.getCause());
        }
    }

    private static ApiException translate(Throwable e) {
        if (e instanceof JobException j) {
            return new ApiException(j.kind().status(), j.kind().error(), j.getMessage());
        }
        if (e instanceof ApiException a) {
            return a;
        }
        if (e instanceof ActorException a) {
            return new ApiException(503, "service unavailable", a.getMessage());
        }
        return new ApiException(500, "internal server error", "the job manager failed: " + Jobs.message(e));
    }
}
