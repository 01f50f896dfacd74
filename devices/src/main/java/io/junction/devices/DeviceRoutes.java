package io.junction.devices;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.actor.ActorException;
import io.junction.core.auth.Principal;
import io.junction.core.device.DeviceUid;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
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
import io.junction.devices.model.ModuleView;
import io.junction.devices.model.SystemSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The REST routes of drivers, modules and systems: reading needs a user, changing modules and systems needs support,
 * changing drivers needs an administrator, calling a function needs what the function's security says. Request bodies
 * are checked here and handed to the model as typed records; ids become {@link ModuleId}, {@link SystemId} and
 * {@link DeviceUid} here.
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
            JsonNode definition = r.bodyJson();
            MqttDriverType type;
            try {
                type = MqttDriverType.parse(definition, "api");
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("the driver definition is not valid: " + e.getMessage());
            }
            boolean replaced = await(model.defineDriver(type, definition));
            return ApiResponse.json(replaced ? 200 : 201, driverJson(type));
        }));

        t.add(Method.GET, "/api/modules", r -> {
            ArrayNode a = Json.MAPPER.createArrayNode();
            model.modules().forEach(m -> a.add(moduleJson(m)));
            return ApiResponse.json(a);
        });
        t.add(Method.POST, "/api/modules", r -> wrap(() -> ApiResponse.json(201, moduleJson(await(model.createModule(moduleDraft(object(r))))))));
        t.add(Method.GET, "/api/modules/{id}", r -> wrap(() -> ApiResponse.json(moduleJson(module(r.pathParam("id"))))));
        t.add(Method.PUT, "/api/modules/{id}", r -> wrap(() ->
                ApiResponse.json(moduleJson(await(model.updateModule(moduleId(r), moduleChange(object(r))))))));
        t.add(Method.DELETE, "/api/modules/{id}", r -> wrap(() -> {
            await(model.deleteModule(moduleId(r)));
            return ApiResponse.status(204);
        }));
        t.add(Method.POST, "/api/modules/{id}/start", r -> wrap(() -> ApiResponse.json(moduleJson(await(model.startModule(moduleId(r)))))));
        t.add(Method.POST, "/api/modules/{id}/stop", r -> wrap(() -> ApiResponse.json(moduleJson(await(model.stopModule(moduleId(r)))))));
        t.add(Method.GET, "/api/modules/{id}/status", r -> wrap(() -> ApiResponse.json(statusJson(model.status(moduleId(r))))));
        t.add(Method.POST, "/api/modules/{id}/exec/{function}", Access.USER, r -> wrap(() ->
                answer(model.exec(caller(r), moduleId(r), r.pathParam("function"), args(r), true))));

        t.add(Method.GET, "/api/systems", r -> {
            ArrayNode a = Json.MAPPER.createArrayNode();
            model.systems().forEach(s -> a.add(systemJson(s)));
            return ApiResponse.json(a);
        });
        t.add(Method.POST, "/api/systems", r -> wrap(() -> ApiResponse.json(201, systemJson(await(model.createSystem(systemDraft(object(r))))))));
        t.add(Method.GET, "/api/systems/{id}", r -> wrap(() -> ApiResponse.json(systemJson(system(r.pathParam("id"))))));
        t.add(Method.PUT, "/api/systems/{id}", r -> wrap(() ->
                ApiResponse.json(systemJson(await(model.updateSystem(systemId(r), systemChange(object(r))))))));
        t.add(Method.DELETE, "/api/systems/{id}", r -> wrap(() -> {
            await(model.deleteSystem(systemId(r)));
            return ApiResponse.status(204);
        }));
        t.add(Method.GET, "/api/systems/{id}/modules/{ref}", r -> wrap(() -> {
            ModuleId moduleId = model.require(systemId(r), ref(r));
            return ApiResponse.json(moduleJson(module(moduleId.value())));
        }));
        t.add(Method.POST, "/api/systems/{id}/modules/{ref}/{function}", Access.USER, r -> wrap(() ->
                answer(model.exec(caller(r), systemId(r), ref(r), r.pathParam("function"), args(r), true))));
    }

    // --- request bodies, checked here and handed to the model as typed records

    /** {@code {"id"?, "name"?, "driver", "device"?, "settings"?, "running"?}}. */
    static ModuleSpec.Draft moduleDraft(JsonNode body) {
        Optional<ModuleId> id = optionalText(body, "id").map(v -> checked(ModuleId.isValid(v), v, "id", ID_RULE, ModuleId::of));
        String driver = optionalText(body, "driver").orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                "driver is required: the id of the driver the module runs (GET /api/drivers lists them)"));
        Optional<String> name = optionalText(body, "name").map(DeviceRoutes::checkedName);
        boolean run = !body.has("running") || body.get("running").asBoolean(true);
        return new ModuleSpec.Draft(id, driver, name, device(body), settings(body), run);
    }

    /** {@code {"name"?, "device"?, "settings"?, "driver"?}}: what is absent stays; {@code "device": null} unbinds. */
    static ModuleSpec.Change moduleChange(JsonNode body) {
        Optional<String> name = optionalText(body, "name").map(DeviceRoutes::checkedName);
        Optional<String> driver = body.has("driver") ? Optional.of(body.get("driver").asText()) : Optional.empty();
        Optional<ObjectNode> settings = body.has("settings") ? Optional.of(settings(body)) : Optional.empty();
        return new ModuleSpec.Change(name, driver, body.has("device"), device(body), settings);
    }

    /** {@code {"id"?, "name", "modules": [module ids]}}. */
    static SystemSpec.Draft systemDraft(JsonNode body) {
        Optional<SystemId> id = optionalText(body, "id").map(v -> checked(SystemId.isValid(v), v, "id", ID_RULE, SystemId::of));
        String name = optionalText(body, "name").orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                "name is required: the system's name, such as \"Boardroom\""));
        return new SystemSpec.Draft(id, name, moduleList(body));
    }

    /** {@code {"name"?, "modules"?}}. */
    static SystemSpec.Change systemChange(JsonNode body) {
        return new SystemSpec.Change(optionalText(body, "name"), body.has("modules") ? Optional.of(moduleList(body)) : Optional.empty());
    }

    private static final String ID_RULE = "1 to 64 letters, digits, '_' or '-'";

    private static String checkedName(String name) {
        return checked(ModuleSpec.isValidName(name), name, "name", ModuleSpec.NAME_RULE, n -> n);
    }

    private static <T> T checked(boolean valid, String value, String key, String expected, java.util.function.Function<String, T> make) {
        if (!valid) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, key + " '" + value + "' is not valid: expected " + expected);
        }
        return make.apply(value);
    }

    private static Optional<DeviceUid> device(JsonNode body) {
        return optionalText(body, "device").map(d -> {
            try {
                return DeviceUid.of(d);
            } catch (IllegalArgumentException e) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "device is not valid: " + e.getMessage());
            }
        });
    }

    private static List<ModuleId> moduleList(JsonNode body) {
        JsonNode list = body.get("modules");
        if (list == null || list.isNull()) {
            return List.of();
        }
        if (!list.isArray()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "modules must be a list of module ids, in order");
        }
        List<ModuleId> ids = new ArrayList<>();
        for (JsonNode n : list) {
            if (!n.isTextual() || !ModuleId.isValid(n.asText())) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: there is no module " + n
                        + " (create it first with POST /api/modules)");
            }
            ids.add(ModuleId.of(n.asText()));
        }
        if (Set.copyOf(ids).size() != ids.size()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: a module may appear only once in a system");
        }
        return ids;
    }

    private static ObjectNode settings(JsonNode body) {
        JsonNode s = body.get("settings");
        if (s == null || s.isNull()) {
            return Json.object();
        }
        if (!s.isObject()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "settings must be a JSON object");
        }
        return (ObjectNode) s;
    }

    private static Optional<String> optionalText(JsonNode body, String key) {
        JsonNode n = body.get(key);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, key + " must be a non-empty text");
        }
        return Optional.of(n.asText());
    }

    // --- answers

    /** A module as the API shows it: its spec, whether it runs, its driver's source and last error, its status. */
    private ObjectNode moduleJson(ModuleSpec m) {
        ModuleView v = model.view(m);
        ObjectNode o = Json.object();
        o.put("id", m.id().value()).put("name", m.name()).put("driver", m.driver());
        m.device().ifPresentOrElse(d -> o.put("device", d.value()), () -> o.putNull("device"));
        o.set("settings", m.settings());
        o.put("running", v.running());
        o.put("state", v.state());
        if (v.running()) {
            v.source().ifPresent(s -> o.put("source", s));
            v.error().ifPresent(e -> o.put("error", e));
            o.put("dropped", v.dropped());
        }
        o.set("status", statusJson(v.status()));
        return o;
    }

    private static ObjectNode statusJson(Map<String, String> status) {
        ObjectNode o = Json.object();
        status.forEach((name, json) -> {
            try {
                o.set(name, Json.parse(json));
            } catch (java.io.IOException e) {
                o.put(name, json);
            }
        });
        return o;
    }

    /** A system as the API shows it, with its modules as {@code Display_1}-style references. */
    private ObjectNode systemJson(SystemSpec s) {
        ObjectNode o = Json.object();
        o.put("id", s.id().value()).put("name", s.name());
        ArrayNode mods = o.putArray("modules");
        s.modules().forEach(id -> mods.add(id.value()));
        ObjectNode index = o.putObject("index");
        model.lookup(s.id()).forEach((ref, id) -> index.put(ref.toString(), id.value()));
        return o;
    }

    private static ModuleRef ref(ApiRequest r) {
        try {
            return ModuleRef.parse(r.pathParam("ref"));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    /** The module id in the path; one that cannot be an id names no module. */
    private static ModuleId moduleId(ApiRequest r) {
        String id = r.pathParam("id");
        if (!ModuleId.isValid(id)) {
            throw new ExecException(ExecException.Code.MODULE_NOT_FOUND, "there is no module '" + id + "'");
        }
        return ModuleId.of(id);
    }

    /** The system id in the path; one that cannot be an id names no system. */
    private static SystemId systemId(ApiRequest r) {
        String id = r.pathParam("id");
        if (!SystemId.isValid(id)) {
            throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + id + "'");
        }
        return SystemId.of(id);
    }

    /** Waits for the model's answer; its {@link ExecException} or an overloaded model becomes the API's error. */
    private static <T> T await(CompletableFuture<T> answer) throws Exception {
        try {
            return answer.get();
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            if (c instanceof ExecException x) {
                throw x;
            }
            if (c instanceof ActorException a) {
                throw new ApiException(503, "unavailable", "the device model " + (a.kind() == ActorException.Kind.MAILBOX_FULL
                        ? "is busy; try again later" : "is shutting down"));
            }
            throw e;
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
        return (ModuleId.isValid(id) ? model.module(ModuleId.of(id)) : Optional.<ModuleSpec>empty())
                .orElseThrow(() -> ApiException.notFound("there is no module '" + id + "'"));
    }

    private SystemSpec system(String id) {
        return (SystemId.isValid(id) ? model.system(SystemId.of(id)) : Optional.<SystemSpec>empty())
                .orElseThrow(() -> ApiException.notFound("there is no system '" + id + "'"));
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
