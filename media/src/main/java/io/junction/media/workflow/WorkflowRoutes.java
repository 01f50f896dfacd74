package io.junction.media.workflow;

import io.junction.core.http.ApiException;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The workflow API: {@code GET /api/workflows}, {@code GET|PUT|DELETE /api/workflows/{name}}. A PUT takes the same
 * JSON shape as the config file's {@code [[workflows]]} ({@code {"steps": [{"type": ..., ...}]}}).
 */
public final class WorkflowRoutes {

    private static final long TIMEOUT_SECONDS = 10;

    private WorkflowRoutes() {
    }

    public static void register(RouteTable routes, WorkflowManager manager) {
        routes.add(Method.GET, "/api/workflows", r -> ApiResponse.json(Map.of("workflows", await(manager.list()))));
        routes.add(Method.GET, "/api/workflows/{name}", r -> {
            String name = r.pathParam("name");
            return ApiResponse.json(await(manager.get(name))
                    .orElseThrow(() -> ApiException.notFound("there is no workflow named '" + name + "'")));
        });
        routes.add(Method.PUT, "/api/workflows/{name}", r -> {
            String name = r.pathParam("name");
            WorkflowDefinition d;
            try {
                d = Definitions.fromJson(name, r.bodyJson());
            } catch (DefinitionException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            boolean existed = await(manager.get(name)).isPresent();
            return ApiResponse.json(existed ? 200 : 201, await(manager.put(d, "api")));
        });
        routes.add(Method.DELETE, "/api/workflows/{name}", r -> {
            String name = r.pathParam("name");
            if (!await(manager.remove(name))) {
                throw ApiException.notFound("there is no workflow named '" + name + "'");
            }
            return ApiResponse.status(204);
        });
    }

    private static <T> T await(Future<T> f) throws InterruptedException {
        try {
            return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof WorkflowConflictException c) {
                throw new ApiException(409, "conflict", c.getMessage());
            }
            if (e.getCause() instanceof DefinitionException d) {
                throw ApiException.badRequest(d.getMessage());
            }
            if (e.getCause() instanceof ForwardLoopException loop) {
                // The workflows defined now make this definition wrong, not its own text: 409, and nothing changed.
                throw new ApiException(409, "conflict", loop.getMessage());
            }
            throw new IllegalStateException("the workflow manager failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new ApiException(503, "service unavailable", "the workflow manager did not answer within " + TIMEOUT_SECONDS + " s");
        }
    }
}
