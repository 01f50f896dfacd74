package io.junction.devices.plugins;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.http.Access;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.util.Objects;

/** {@code GET /api/plugins}: the driver plugin jars, the version of each that runs, and why a newer one did not load. */
public final class PluginRoutes {

    private final PluginLoader loader;

    public PluginRoutes(PluginLoader loader) {
        this.loader = Objects.requireNonNull(loader, "loader");
    }

    public void register(RouteTable t) {
        t.add(Method.GET, "/api/plugins", Access.USER, r -> ApiResponse.json(json()));
    }

    /**
     * {@code [{"file": "pump.jar", "version": 2, "checksum": "<sha-256>", "drivers": ["acme-pump"], "loadedAt":
     * "2025-...Z", "error": "v3 not loaded: ..."}]}; {@code loadedAt} and {@code error} are left out when absent.
     */
    ArrayNode json() {
        ArrayNode list = Json.MAPPER.createArrayNode();
        for (PluginLoader.Plugin p : loader.plugins()) {
            ObjectNode o = list.addObject();
            o.put("file", p.file());
            o.put("version", p.version());
            o.put("checksum", p.checksum());
            ArrayNode drivers = o.putArray("drivers");
            p.drivers().forEach(drivers::add);
            p.loadedAt().ifPresent(at -> o.put("loadedAt", at.toString()));
            p.error().ifPresent(e -> o.put("error", e));
        }
        return list;
    }
}
