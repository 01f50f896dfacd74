package io.junction.devices;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.device.ModuleRef;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.MqttDriverType;
import io.junction.devices.model.DeviceModel;
import io.junction.devices.model.ModuleSpec;
import io.junction.devices.model.SystemSpec;

import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The REST routes of drivers, modules and systems: reading needs a user, changing modules and systems needs support,
 * changing drivers needs an administrator, calling a function needs what the function's security says.
 */
public final class DeviceRoutes {

    private final DeviceModel model;
    private final DriverCatalog drivers;

    public DeviceRoutes(DeviceModel model, DriverCatalog drivers) {
        this.model = model;
        this.drivers = drivers;
    }

    public void register(RouteTable t) {
        t.add(Method.GET, "/api/drivers", r -> ApiResponse.json(driversJson()));
        t.add(Method.GET, "/api/drivers/{id}", r -> wrap(() -> ApiResponse.json(driverJson(driver(r.pathParam("id"))))));
        t.add(Method.GET, "/api/drivers/{id}/metadata", r -> wrap(() -> ApiResponse.json(driver(r.pathParam("id")).metadata().toJson())));
        t.add(Method.POST, "/api/drivers", Access.ADMINISTRATOR, r -> wrap(() -> {
            MqttDriverType type;
            try {
                type = MqttDriverType.parse(r.bodyJson(), "api");
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("the driver definition is not valid: " + e.getMessage());
            }
            boolean replaced = drivers.get(type.metadata().id()).isPresent();
            drivers.put(type);
            return ApiResponse.json(replaced ? 200 : 201, driverJson(type));
        }));

        t.add(Method.GET, "/api/modules", r -> {
            ArrayNode a = Json.MAPPER.createArrayNode();
            model.modules().forEach(m -> a.add(model.moduleJson(m)));
            return ApiResponse.json(a);
        });
        t.add(Method.POST, "/api/modules", r -> wrap(() -> ApiResponse.json(201, model.moduleJson(model.createModule(object(r))))));
        t.add(Method.GET, "/api/modules/{id}", r -> wrap(() -> ApiResponse.json(model.moduleJson(module(r.pathParam("id"))))));
        t.add(Method.PUT, "/api/modules/{id}", r -> wrap(() -> ApiResponse.json(model.moduleJson(model.updateModule(r.pathParam("id"), object(r))))));
        t.add(Method.DELETE, "/api/modules/{id}", r -> wrap(() -> {
            model.deleteModule(r.pathParam("id"));
            return ApiResponse.status(204);
        }));
        t.add(Method.POST, "/api/modules/{id}/start", r -> wrap(() -> ApiResponse.json(model.moduleJson(model.startModule(r.pathParam("id"))))));
        t.add(Method.POST, "/api/modules/{id}/stop", r -> wrap(() -> ApiResponse.json(model.moduleJson(model.stopModule(r.pathParam("id"))))));
        t.add(Method.GET, "/api/modules/{id}/status", r -> wrap(() -> ApiResponse.json(model.status(r.pathParam("id")))));
        t.add(Method.POST, "/api/modules/{id}/exec/{function}", Access.USER, r -> wrap(() ->
                answer(model.exec(caller(r), r.pathParam("id"), r.pathParam("function"), args(r), true))));

        t.add(Method.GET, "/api/systems", r -> {
            ArrayNode a = Json.MAPPER.createArrayNode();
            model.systems().forEach(s -> a.add(model.systemJson(s)));
            return ApiResponse.json(a);
        });
        t.add(Method.POST, "/api/systems", r -> wrap(() -> ApiResponse.json(201, model.systemJson(model.createSystem(object(r))))));
        t.add(Method.GET, "/api/systems/{id}", r -> wrap(() -> ApiResponse.json(model.systemJson(system(r.pathParam("id"))))));
        t.add(Method.PUT, "/api/systems/{id}", r -> wrap(() -> ApiResponse.json(model.systemJson(model.updateSystem(r.pathParam("id"), object(r))))));
        t.add(Method.DELETE, "/api/systems/{id}", r -> wrap(() -> {
            model.deleteSystem(r.pathParam("id"));
            return ApiResponse.status(204);
        }));
        t.add(Method.GET, "/api/systems/{id}/modules/{ref}", r -> wrap(() -> {
            ModuleRef ref = ref(r);
            String moduleId = model.require(r.pathParam("id"), ref.name(), ref.index());
            return ApiResponse.json(model.moduleJson(module(moduleId)));
        }));
        t.add(Method.POST, "/api/systems/{id}/modules/{ref}/{function}", Access.USER, r -> wrap(() -> {
            ModuleRef ref = ref(r);
            return answer(model.exec(caller(r), r.pathParam("id"), ref.name(), ref.index(), r.pathParam("function"), args(r), true));
        }));
    }

    private static ModuleRef ref(ApiRequest r) {
        try {
            return ModuleRef.parse(r.pathParam("ref"));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    private static Principal caller(ApiRequest r) {
        return r.caller().orElse(Principal.SYSTEM);
    }

    private static JsonNode args(ApiRequest r) {
        return r.body().length == 0 ? NullNode.getInstance() : r.bodyJson();
    }

    private static JsonNode object(ApiRequest r) {
        JsonNode body = r.bodyJson();
        if (!body.isObject()) {
            throw ApiException.badRequest("the body must be a JSON object");
        }
        return body;
    }

    private static ApiResponse answer(CompletableFuture<JsonNode> call) throws Exception {
        try {
            return ApiResponse.json(Json.object().set("result", call.get()));
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            if (c instanceof ExecException x) {
                throw x;
            }
            throw e;
        }
    }

    /** Turns an {@link ExecException} into the API's JSON error. */
    static ApiResponse wrap(Action action) throws Exception {
        try {
            return action.run();
        } catch (ExecException e) {
            throw toApi(e);
        }
    }

    static ApiException toApi(ExecException e) {
        return new ApiException(e.code().http(), e.code().name().toLowerCase(Locale.ROOT).replace('_', ' '), e.getMessage());
    }

    @FunctionalInterface
    interface Action {
        ApiResponse run() throws Exception;
    }

    private DriverType driver(String id) {
        return drivers.get(id).orElseThrow(() -> ApiException.notFound("there is no driver '" + id + "'"));
    }

    private ModuleSpec module(String id) {
        return model.module(id).orElseThrow(() -> ApiException.notFound("there is no module '" + id + "'"));
    }

    private SystemSpec system(String id) {
        return model.system(id).orElseThrow(() -> ApiException.notFound("there is no system '" + id + "'"));
    }

    private ObjectNode driversJson() {
        ObjectNode o = Json.object();
        ArrayNode list = o.putArray("drivers");
        drivers.all().forEach(d -> list.add(driverJson(d)));
        ArrayNode failures = o.putArray("failures");
        drivers.failures().forEach(f -> failures.addObject().put("source", f.source()).put("error", f.error()).put("at", f.at()));
        return o;
    }

    private static ObjectNode driverJson(DriverType d) {
        ObjectNode o = Json.object();
        o.put("id", d.metadata().id()).put("name", d.metadata().name()).put("description", d.metadata().description())
                .put("source", d.source());
        o.set("metadata", d.metadata().toJson());
        return o;
    }
}
