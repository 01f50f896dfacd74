package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Role;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverMetadata;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.FunctionSpec;
import io.junction.devices.driver.Param;
import io.junction.devices.driver.ParamType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A garden pump's driver metadata for the tests: {@code power(state: Bool)}, {@code speed(level: Int32)},
 * {@code label(text: String = "pump")} and the support-only {@code purge()}; plus the jobs it offers itself.
 */
final class PumpDriver implements DriverType {

    static final String ID = "garden-pump";

    private final DriverMetadata metadata;
    private final List<ObjectNode> jobs;

    PumpDriver(List<ObjectNode> jobs) {
        Map<String, FunctionSpec> fns = new LinkedHashMap<>();
        fns.put("power", new FunctionSpec("power", List.of(new Param("state", List.of(ParamType.BOOL), Optional.empty())), Role.USER));
        fns.put("speed", new FunctionSpec("speed", List.of(new Param("level", List.of(ParamType.INT32), Optional.empty())), Role.USER));
        fns.put("label", new FunctionSpec("label", List.of(new Param("text", List.of(ParamType.STRING),
                Optional.of(Json.MAPPER.getNodeFactory().textNode("pump")))), Role.USER));
        fns.put("purge", new FunctionSpec("purge", List.of(), Role.SUPPORT));
        this.metadata = new DriverMetadata(ID, "Pump", "a garden pump", fns, List.of(), Map.of()).validate();
        this.jobs = List.copyOf(jobs);
    }

    PumpDriver() {
        this(List.of());
    }

    @Override
    public DriverMetadata metadata() {
        return metadata;
    }

    @Override
    public String source() {
        return "built-in";
    }

    @Override
    public Driver create() {
        throw new UnsupportedOperationException("the tests call modules through FakeModules");
    }

    @Override
    public Object call(Driver instance, FunctionSpec function, List<JsonNode> args) {
        throw new UnsupportedOperationException("the tests call modules through FakeModules");
    }

    @Override
    public List<ObjectNode> jobs() {
        return jobs;
    }
}
