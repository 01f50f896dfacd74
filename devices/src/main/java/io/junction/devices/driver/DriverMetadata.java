package io.junction.devices.driver;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Role;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What a driver offers, as clients see it: its functions with typed parameters and defaults, the interfaces it
 * implements, the modules it requires in its system, and which functions need more than the {@code user} role.
 *
 * @param id          unique on the server; kept when the driver's code is replaced
 * @param name        the default name of its modules ({@code Display})
 * @param functions   by name, in declaration order
 * @param requirements module reference ({@code Display_1}) → interfaces it must implement
 */
public record DriverMetadata(String id, String name, String description, Map<String, FunctionSpec> functions,
                             List<String> implementsList, Map<String, List<String>> requirements) {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,63}");
    private static final Pattern FUNCTION = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");

    public DriverMetadata {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        functions = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(functions));
        implementsList = List.copyOf(implementsList);
        requirements = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(requirements));
    }

    /** Checks what a driver declares; the message of the {@link IllegalArgumentException} says what is wrong. */
    public DriverMetadata validate() {
        if (!ID.matcher(id).matches()) {
            throw new IllegalArgumentException("driver id '" + id + "' must be 1 to 64 letters, digits, '_', '-' or '.'");
        }
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("driver '" + id + "': module name '" + name
                    + "' must start with a letter and have at most 64 letters, digits, '_' or '-' (e.g. Display)");
        }
        for (FunctionSpec f : functions.values()) {
            if (!FUNCTION.matcher(f.name()).matches()) {
                throw new IllegalArgumentException("driver '" + id + "': function name '" + f.name() + "' is not a valid identifier");
            }
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (Param p : f.params()) {
                if (!FUNCTION.matcher(p.name()).matches()) {
                    throw new IllegalArgumentException("driver '" + id + "': function " + f.name() + ": parameter name '"
                            + p.name() + "' is not a valid identifier");
                }
                if (!seen.add(p.name())) {
                    throw new IllegalArgumentException("driver '" + id + "': function " + f.name() + " has two parameters named '" + p.name() + "'");
                }
                if (p.fallback().isPresent() && !p.accepts(p.fallback().get())) {
                    throw new IllegalArgumentException("driver '" + id + "': function " + f.name() + ": the default of '"
                            + p.name() + "' (" + p.fallback().get() + ") is not a " + p.typeText());
                }
            }
        }
        return this;
    }

    public Optional<FunctionSpec> function(String name) {
        return Optional.ofNullable(functions.get(name));
    }

    /**
     * The metadata in the shape clients expect: {@code {"functions": {"add": {"a": ["Int32"], "b": ["Int32", 200]}},
     * "implements": [...], "requirements": {"Display_1": ["Powerable"]}, "security": {"support": [...],
     * "administrator": [...]}}}.
     */
    public ObjectNode toJson() {
        ObjectNode root = Json.object();
        ObjectNode fns = root.putObject("functions");
        for (FunctionSpec f : functions.values()) {
            ObjectNode params = fns.putObject(f.name());
            for (Param p : f.params()) {
                ArrayNode a = params.putArray(p.name());
                a.add(p.typeText());
                p.fallback().ifPresent(a::add);
            }
        }
        ArrayNode impl = root.putArray("implements");
        implementsList.forEach(impl::add);
        ObjectNode req = root.putObject("requirements");
        requirements.forEach((module, ifaces) -> {
            ArrayNode a = req.putArray(module);
            ifaces.forEach(a::add);
        });
        ObjectNode security = root.putObject("security");
        for (Role r : List.of(Role.SUPPORT, Role.ADMINISTRATOR)) {
            List<String> names = functions.values().stream().filter(f -> f.role() == r).map(FunctionSpec::name).toList();
            if (!names.isEmpty()) {
                ArrayNode a = security.putArray(r.id());
                names.forEach(a::add);
            }
        }
        return root;
    }
}
