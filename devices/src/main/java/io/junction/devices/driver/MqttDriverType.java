package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.auth.Role;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The generic MQTT driver, configured without code: which routing keys become which status variables, and which
 * functions send which commands. Keys may name module settings as {@code {room}} (and the bound device as
 * {@code {device}}), so one definition serves every light of a building.
 *
 * <pre>
 * [[drivers]]
 * id = "light"
 * name = "Light"
 * implements = ["Powerable"]
 * status = { power = "{room}.light.power", brightness = "{room}.light.brightness" }
 * [drivers.functions.power]
 * key = "{room}.light.power"
 * params = { state = "Bool" }          # name = type, or name = [type, default]
 * payload = "state"                    # send {"value": <state>}; by default the arguments as an object
 * role = "user"
 * </pre>
 */
public final class MqttDriverType implements DriverType {

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]*)}");
    private static final Set<String> KEYS = Set.of("id", "name", "description", "implements", "status", "functions");
    private static final Set<String> FUNCTION_KEYS = Set.of("key", "params", "payload", "role");

    private final DriverMetadata metadata;
    private final String source;
    /** Status variable → key template. */
    private final Map<String, String> status;
    /** Function → key template and payload argument (empty: all arguments as an object). */
    private final Map<String, Command> commands;

    private record Command(String key, Optional<String> payload) {
    }

    private MqttDriverType(DriverMetadata metadata, String source, Map<String, String> status, Map<String, Command> commands) {
        this.metadata = metadata;
        this.source = source;
        this.status = status;
        this.commands = commands;
    }

    /** Reads a definition; the {@link IllegalArgumentException}'s message says what is wrong (without the place). */
    public static MqttDriverType parse(JsonNode spec, String source) {
        if (spec == null || !spec.isObject()) {
            throw new IllegalArgumentException("a generic MQTT driver is a JSON object with id, status and functions");
        }
        for (Iterator<String> it = spec.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "'; a generic MQTT driver has " + String.join(", ", new java.util.TreeSet<>(KEYS)));
            }
        }
        String id = text(spec, "id", null);
        if (id == null) {
            throw new IllegalArgumentException("id is required: the driver's id, such as \"light\"");
        }
        String name = text(spec, "name", "Module");
        String description = text(spec, "description", "");
        List<String> impl = new ArrayList<>();
        JsonNode implNode = spec.path("implements");
        if (!implNode.isMissingNode()) {
            if (!implNode.isArray()) {
                throw new IllegalArgumentException("implements must be a list of interface names, such as [\"Powerable\"]");
            }
            implNode.forEach(n -> impl.add(n.asText()));
        }
        Map<String, String> status = new LinkedHashMap<>();
        JsonNode statusNode = spec.path("status");
        if (!statusNode.isMissingNode()) {
            if (!statusNode.isObject()) {
                throw new IllegalArgumentException("status must be a table of status variable = routing key, such as { power = \"{room}.light.power\" }");
            }
            for (var e : statusNode.properties()) {
                if (!e.getValue().isTextual()) {
                    throw new IllegalArgumentException("status." + e.getKey() + " must be a routing key (text)");
                }
                checkTemplate("status." + e.getKey(), e.getValue().asText());
                status.put(e.getKey(), e.getValue().asText());
            }
        }
        Map<String, FunctionSpec> functions = new LinkedHashMap<>();
        Map<String, Command> commands = new HashMap<>();
        JsonNode fns = spec.path("functions");
        if (!fns.isMissingNode() && !fns.isObject()) {
            throw new IllegalArgumentException("functions must be a table of function name = { key, params, payload, role }");
        }
        for (var e : fns.properties()) {
            String fn = e.getKey();
            JsonNode f = e.getValue();
            if (!f.isObject()) {
                throw new IllegalArgumentException("functions." + fn + " must be a table with key, params, payload and role");
            }
            for (Iterator<String> it = f.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!FUNCTION_KEYS.contains(k)) {
                    throw new IllegalArgumentException("functions." + fn + ": unknown key '" + k + "'; use key, params, payload, role");
                }
            }
            String key = text(f, "key", null);
            if (key == null) {
                throw new IllegalArgumentException("functions." + fn + ".key is required: the routing key the command is sent to");
            }
            checkTemplate("functions." + fn + ".key", key);
            List<Param> params = new ArrayList<>();
            for (var p : f.path("params").properties()) {
                params.add(param("functions." + fn + ".params." + p.getKey(), p.getKey(), p.getValue()));
            }
            Optional<String> payload = Optional.ofNullable(text(f, "payload", null));
            if (payload.isPresent() && params.stream().noneMatch(p -> p.name().equals(payload.get()))) {
                throw new IllegalArgumentException("functions." + fn + ".payload names '" + payload.get() + "', which is not one of its params");
            }
            String roleText = text(f, "role", "user");
            Role role = Role.parse(roleText).orElseThrow(() -> new IllegalArgumentException("functions." + fn
                    + ".role must be user, support or administrator, got \"" + roleText + "\""));
            functions.put(fn, new FunctionSpec(fn, params, role));
            commands.put(fn, new Command(key, payload));
        }
        DriverMetadata metadata = new DriverMetadata(id, name, description, functions, impl, Map.of()).validate();
        return new MqttDriverType(metadata, source, Map.copyOf(status), Map.copyOf(commands));
    }

    private static Param param(String where, String name, JsonNode v) {
        String typeText;
        Optional<JsonNode> fallback = Optional.empty();
        if (v.isTextual()) {
            typeText = v.asText();
        } else if (v.isArray() && v.size() >= 1 && v.size() <= 2 && v.get(0).isTextual()) {
            typeText = v.get(0).asText();
            if (v.size() == 2) {
                fallback = Optional.of(v.get(1));
            }
        } else {
            throw new IllegalArgumentException(where + " must be a type (\"Bool\") or [type, default] ([\"Int32\", 100])");
        }
        List<ParamType> types = new ArrayList<>();
        for (String t : typeText.split("\\|")) {
            types.add(ParamType.parse(t).orElseThrow(() -> new IllegalArgumentException(where + ": unknown type '" + t.trim()
                    + "'; use String, Int32, Int64, Float64, Bool, Object, Array, JSON or a union such as \"String | Int32\"")));
        }
        return new Param(name, types, fallback);
    }

    private static String text(JsonNode spec, String key, String fallback) {
        JsonNode n = spec.get(key);
        if (n == null) {
            return fallback;
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new IllegalArgumentException(key + " must be a non-empty text");
        }
        return n.asText();
    }

    private static void checkTemplate(String where, String template) {
        String probe = PLACEHOLDER.matcher(template).replaceAll("x");
        if (!RoutingKey.isValid(probe)) {
            throw new IllegalArgumentException(where + ": '" + template + "' is not a routing key (dotted words, placeholders as {room})");
        }
    }

    @Override
    public DriverMetadata metadata() {
        return metadata;
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public Driver create() {
        return new Instance();
    }

    @Override
    public Object call(Driver instance, FunctionSpec function, List<JsonNode> args) {
        return ((Instance) instance).call(function, args);
    }

    /** One module's generic driver: the templates resolved with its settings. */
    private final class Instance implements Driver {
        private DriverContext context;
        private ObjectNode settings;
        private final Map<RoutingKey, String> statusByKey = new HashMap<>();
        /** Function → its command's key, resolved once from the module's settings. */
        private final Map<String, RoutingKey> commandKeys = new HashMap<>();

        @Override
        public void start(DriverContext context) {
            this.context = context;
            this.settings = context.settings();
            for (var e : status.entrySet()) {
                RoutingKey key = RoutingKey.of(resolve(e.getValue()));
                statusByKey.put(key, e.getKey());
                context.follow(RoutingPattern.of(key.value()));
            }
            for (var e : commands.entrySet()) {
                commandKeys.put(e.getKey(), RoutingKey.of(resolve(e.getValue().key())));
            }
        }

        @Override
        public void received(Message message) throws Exception {
            if (!Message.STATUS.equals(message.kind())) {
                return;
            }
            String name = statusByKey.get(message.key());
            if (name == null) {
                return;
            }
            JsonNode body = Json.parse(message.body());
            if (body != null && body.isObject() && body.size() == 1 && body.has("value")) {
                body = body.get("value");
            }
            context.status(name, body);
        }

        Object call(FunctionSpec function, List<JsonNode> args) {
            Command c = commands.get(function.name());
            JsonNode payload;
            if (c.payload().isPresent()) {
                // Commands are JSON objects, like every message on the streams: one argument goes as {"value": ...}.
                payload = Json.object().set("value", args.get(indexOf(function, c.payload().get())));
            } else {
                ObjectNode o = Json.object();
                for (int i = 0; i < args.size(); i++) {
                    o.set(function.params().get(i).name(), args.get(i));
                }
                payload = o;
            }
            RoutingKey key = commandKeys.get(function.name());
            return context.send(key, payload).thenApply(m -> Json.object().put("key", key.value()).put("id", m.id()));
        }

        /** A key template with the module's settings (and device) filled in; only at start. */
        private String resolve(String template) {
            Matcher m = PLACEHOLDER.matcher(template);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                String name = m.group(1);
                String value;
                if (name.equals("device")) {
                    value = context.device().orElseThrow(() -> new IllegalStateException("module " + context.moduleId()
                            + " has no device, but key '" + template + "' of driver " + metadata.id() + " names {device}"));
                } else {
                    JsonNode v = settings.get(name);
                    if (v == null || !(v.isTextual() || v.isNumber())) {
                        throw new IllegalStateException("module " + context.moduleId() + " needs the setting '" + name
                                + "' (text) for key '" + template + "' of driver " + metadata.id());
                    }
                    value = v.asText();
                }
                m.appendReplacement(out, Matcher.quoteReplacement(value));
            }
            m.appendTail(out);
            return out.toString();
        }
    }

    private static int indexOf(FunctionSpec f, String name) {
        for (int i = 0; i < f.params().size(); i++) {
            if (f.params().get(i).name().equals(name)) {
                return i;
            }
        }
        throw new IllegalStateException("no parameter " + name);
    }
}
