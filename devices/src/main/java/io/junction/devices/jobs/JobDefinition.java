package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.devices.driver.Arguments;
import io.junction.devices.driver.DriverMetadata;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A job as a {@code [[jobs]]} section or a driver defines it: typed parameters, steps (function calls and waits) and
 * the neutral calls that make the device safe. Built only by {@link #parse}, which checks the whole shape, so code
 * further in can trust it.
 *
 * @param driver      the driver whose modules offer the job; given in the config, empty for a driver's own jobs
 * @param description for people; may be empty
 * @param where       where it was defined, for error messages: {@code junction.toml:12}, {@code driver pump (built-in)}
 */
public record JobDefinition(String name, Optional<String> driver, String description, List<Param> params,
                            List<Step> steps, List<Call> neutral, String where) {

    static final int MAX_STEPS = 1_000;
    static final int MAX_NEUTRAL = 100;
    static final int MAX_PARAMS = 64;

    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,63}");
    private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]{0,63})}");
    private static final String SHAPE = "write each step as { call = \"power\", args = { state = true } } or { wait = \"5m\" }";

    /** A parameter: its name, its type, and its default when a caller may leave it out. */
    public record Param(String name, JobParamType type, Optional<JsonNode> fallback) {
        public Param {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(fallback, "fallback");
        }
    }

    /** One step of a job: a call or a wait. */
    public sealed interface Step permits Call, Wait {
    }

    /** Calls {@code function} with {@code args}, in which a string {@code "{name}"} stands for parameter {@code name}. */
    public record Call(String function, ObjectNode args) implements Step {
        public Call {
            Objects.requireNonNull(function, "function");
            args = args.deepCopy();
        }

        @Override
        public ObjectNode args() {
            return args.deepCopy();
        }

        /** The arguments as written, not copied: for the job manager, which only reads them. */
        ObjectNode template() {
            return args;
        }
    }

    /** Waits {@code duration}: a literal such as {@code 5m}, or {@code "{name}"} for a Duration parameter. */
    public record Wait(String duration) implements Step {
        public Wait {
            Objects.requireNonNull(duration, "duration");
        }
    }

    public JobDefinition {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(description, "description");
        params = List.copyOf(params);
        steps = List.copyOf(steps);
        neutral = List.copyOf(neutral);
        Objects.requireNonNull(where, "where");
    }

    /**
     * Reads and checks a definition. Throws {@link IllegalArgumentException} whose message starts with {@code where}
     * and says what is wrong and what is expected.
     */
    public static JobDefinition parse(JsonNode spec, String where) {
        if (spec == null || !spec.isObject()) {
            throw new IllegalArgumentException(where + ": a job must be a table (JSON object) with name, params, steps and neutral");
        }
        JsonNode nameNode = spec.get("name");
        if (nameNode == null || !nameNode.isTextual() || !NAME.matcher(nameNode.asText()).matches()) {
            throw new IllegalArgumentException(where + ": a job needs a name of 1 to 64 letters, digits, '_' or '-' that starts with a letter"
                    + (nameNode == null ? "" : ", got " + nameNode));
        }
        String name = nameNode.asText();
        String at = where + ": job '" + name + "'";
        Set<String> keys = Set.of("name", "driver", "description", "params", "steps", "neutral");
        for (Iterator<String> it = spec.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!keys.contains(k)) {
                throw new IllegalArgumentException(at + ": unknown key '" + k + "'; a job has name, driver (in the config), description, params, steps and neutral");
            }
        }
        Optional<String> driver = Optional.empty();
        if (spec.has("driver")) {
            JsonNode d = spec.get("driver");
            if (!d.isTextual() || d.asText().isBlank()) {
                throw new IllegalArgumentException(at + ": driver must be the id of a driver, as in driver = \"garden-pump\", got " + d);
            }
            driver = Optional.of(d.asText());
        }
        String description = "";
        if (spec.has("description")) {
            if (!spec.get("description").isTextual()) {
                throw new IllegalArgumentException(at + ": description must be a string");
            }
            description = spec.get("description").asText();
        }
        List<Param> params = params(at, spec.get("params"));
        Map<String, Param> byName = new java.util.LinkedHashMap<>();
        for (Param p : params) {
            byName.put(p.name(), p);
        }
        JsonNode stepsNode = spec.get("steps");
        if (stepsNode == null || !stepsNode.isArray() || stepsNode.isEmpty()) {
            throw new IllegalArgumentException(at + ": steps must be a non-empty array; " + SHAPE);
        }
        if (stepsNode.size() > MAX_STEPS) {
            throw new IllegalArgumentException(at + ": at most " + MAX_STEPS + " steps, got " + stepsNode.size());
        }
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < stepsNode.size(); i++) {
            steps.add(step(at + ": steps[" + i + "]", stepsNode.get(i), byName, true));
        }
        if (steps.stream().noneMatch(s -> s instanceof Call)) {
            throw new IllegalArgumentException(at + ": steps need at least one call; " + SHAPE);
        }
        JsonNode neutralNode = spec.get("neutral");
        if (neutralNode == null || !neutralNode.isArray()) {
            throw new IllegalArgumentException(at + ": neutral must be an array of the calls that make the device safe, as in "
                    + "neutral = [ { call = \"power\", args = { state = false } } ] (write neutral = [] when there is nothing to undo)");
        }
        if (neutralNode.size() > MAX_NEUTRAL) {
            throw new IllegalArgumentException(at + ": at most " + MAX_NEUTRAL + " neutral calls, got " + neutralNode.size());
        }
        List<Call> neutral = new ArrayList<>();
        for (int i = 0; i < neutralNode.size(); i++) {
            neutral.add((Call) step(at + ": neutral[" + i + "]", neutralNode.get(i), byName, false));
        }
        JobDefinition d = new JobDefinition(name, driver, description, params, steps, neutral, where);
        long longest = d.offsets(d.bindDefaultsForCheck())[steps.size()];
        if (longest > Durations.MAX_MILLIS) {
            throw new IllegalArgumentException(at + ": its waits add up to more than 366 days");
        }
        return d;
    }

    private static List<Param> params(String at, JsonNode node) {
        List<Param> params = new ArrayList<>();
        if (node == null) {
            return params;
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(at + ": params must be a table of name = type or name = [type, default], "
                    + "as in params = { duration = [\"Duration\", \"5m\"] }");
        }
        if (node.size() > MAX_PARAMS) {
            throw new IllegalArgumentException(at + ": at most " + MAX_PARAMS + " params, got " + node.size());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String p = e.getKey();
            if (!IDENT.matcher(p).matches()) {
                throw new IllegalArgumentException(at + ": param name '" + p + "' must be letters, digits and '_', starting with a letter or '_'");
            }
            JsonNode v = e.getValue();
            JsonNode typeNode;
            Optional<JsonNode> fallback = Optional.empty();
            if (v.isTextual()) {
                typeNode = v;
            } else if (v.isArray() && (v.size() == 1 || v.size() == 2) && v.get(0).isTextual()) {
                typeNode = v.get(0);
                if (v.size() == 2) {
                    fallback = Optional.of(v.get(1).deepCopy());
                }
            } else {
                throw new IllegalArgumentException(at + ": param " + p + " must be a type or [type, default], as in "
                        + p + " = \"Int32\" or " + p + " = [\"Duration\", \"5m\"], got " + v);
            }
            JobParamType type = JobParamType.parse(typeNode.asText()).orElseThrow(() -> new IllegalArgumentException(at
                    + ": param " + p + " has unknown type '" + typeNode.asText() + "'; use Duration, Int32, Float64, Bool or String"));
            if (fallback.isPresent() && !type.accepts(fallback.get())) {
                throw new IllegalArgumentException(at + ": the default of param " + p + " must be " + type.expected()
                        + ", got " + fallback.get());
            }
            params.add(new Param(p, type, fallback));
        }
        return params;
    }

    private static Step step(String at, JsonNode node, Map<String, Param> params, boolean waitAllowed) {
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException(at + ": expected a table, got " + node + "; " + SHAPE);
        }
        if (node.has("wait")) {
            if (!waitAllowed) {
                throw new IllegalArgumentException(at + ": a neutral call cannot wait; write { call = \"power\", args = { state = false } }");
            }
            if (node.size() != 1) {
                throw new IllegalArgumentException(at + ": a wait step has only the key wait, got " + fieldNames(node));
            }
            JsonNode w = node.get("wait");
            if (!w.isTextual()) {
                throw new IllegalArgumentException(at + ": wait must be " + Durations.EXPECTED + " or \"{param}\", got " + w);
            }
            Matcher m = PLACEHOLDER.matcher(w.asText());
            if (m.matches()) {
                Param p = params.get(m.group(1));
                if (p == null) {
                    throw new IllegalArgumentException(at + ": wait " + w.asText() + " names no param; declared: " + declared(params));
                }
                if (p.type() != JobParamType.DURATION) {
                    throw new IllegalArgumentException(at + ": wait " + w.asText() + " needs a Duration param, but " + p.name()
                            + " is " + p.type().id());
                }
            } else if (Durations.parse(w.asText()).isEmpty()) {
                throw new IllegalArgumentException(at + ": wait '" + w.asText() + "' is not " + Durations.EXPECTED
                        + " (at most 366 days), nor a \"{param}\"");
            }
            return new Wait(w.asText());
        }
        JsonNode call = node.get("call");
        if (call == null) {
            throw new IllegalArgumentException(at + ": expected the key call" + (waitAllowed ? " or wait" : "") + ", got "
                    + fieldNames(node) + "; " + SHAPE);
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!k.equals("call") && !k.equals("args")) {
                throw new IllegalArgumentException(at + ": unknown key '" + k + "'; a call step has call and args");
            }
        }
        if (!call.isTextual() || !IDENT.matcher(call.asText()).matches()) {
            throw new IllegalArgumentException(at + ": call must name a function of the driver, as in call = \"power\", got " + call);
        }
        JsonNode args = node.get("args");
        if (args != null && !args.isObject()) {
            throw new IllegalArgumentException(at + ": args must be a table of argument = value, as in args = { state = true }, got " + args);
        }
        ObjectNode a = args == null ? Json.object() : (ObjectNode) args.deepCopy();
        checkPlaceholders(at + ": args", a, params);
        return new Call(call.asText(), a);
    }

    private static void checkPlaceholders(String at, JsonNode node, Map<String, Param> params) {
        if (node.isTextual()) {
            Matcher m = PLACEHOLDER.matcher(node.asText());
            if (m.matches() && !params.containsKey(m.group(1))) {
                throw new IllegalArgumentException(at + ": " + node.asText() + " names no param; declared: " + declared(params));
            }
        } else if (node.isContainerNode()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                checkPlaceholders(at + "." + e.getKey(), e.getValue(), params);
            }
            if (node.isArray()) {
                for (int i = 0; i < node.size(); i++) {
                    checkPlaceholders(at + "[" + i + "]", node.get(i), params);
                }
            }
        }
    }

    private static String declared(Map<String, Param> params) {
        return params.isEmpty() ? "none" : String.join(", ", params.keySet());
    }

    private static String fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "an empty table" : String.join(", ", names);
    }

    /**
     * The problems of running this job on a module of {@code driver}: functions it does not have, arguments they do
     * not take or of the wrong type; empty when there are none.
     */
    public List<String> problems(DriverMetadata driver) {
        List<String> problems = new ArrayList<>();
        ObjectNode samples = Json.object();
        for (Param p : params) {
            samples.set(p.name(), p.type().sample());
        }
        List<Call> calls = new ArrayList<>();
        for (Step s : steps) {
            if (s instanceof Call c) {
                calls.add(c);
            }
        }
        calls.addAll(neutral);
        Set<String> seen = new LinkedHashSet<>();
        for (Call c : calls) {
            Optional<FunctionSpec> f = driver.function(c.function());
            if (f.isEmpty()) {
                if (seen.add("fn:" + c.function())) {
                    problems.add("it calls " + c.function() + ", which driver " + driver.id() + " does not have (it has "
                            + (driver.functions().isEmpty() ? "no functions" : String.join(", ", driver.functions().keySet())) + ")");
                }
                continue;
            }
            boolean fits = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = c.args.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> a = it.next();
                Matcher m = PLACEHOLDER.matcher(a.getValue().isTextual() ? a.getValue().asText() : "");
                Optional<io.junction.devices.driver.Param> fp = f.get().params().stream().filter(x -> x.name().equals(a.getKey())).findFirst();
                if (m.matches() && fp.isPresent()) {
                    Param p = params.stream().filter(x -> x.name().equals(m.group(1))).findFirst().orElseThrow();
                    if (!fp.get().accepts(p.type().sample())) {
                        fits = false;
                        String text = c.function() + "(" + a.getKey() + " = " + a.getValue().asText() + "): param " + p.name()
                                + " is " + p.type().id() + ", but " + driver.id() + "." + c.function() + " takes " + a.getKey()
                                + " as " + fp.get().typeText();
                        if (seen.add(text)) {
                            problems.add(text);
                        }
                    }
                }
            }
            if (!fits) {
                continue;
            }
            try {
                Arguments.check(driver.id(), f.get(), resolve(c.args, samples));
            } catch (ExecException e) {
                if (seen.add(e.getMessage())) {
                    problems.add(e.getMessage());
                }
            }
        }
        return problems;
    }

    /**
     * The values of every parameter for a run with {@code args} (a JSON object by name; null or missing for none),
     * defaults filled in. Throws {@link IllegalArgumentException} naming every missing, unknown or wrongly typed one.
     */
    public ObjectNode bind(JsonNode args) {
        List<String> problems = new ArrayList<>();
        ObjectNode values = Json.object();
        if (args != null && !args.isNull() && !args.isMissingNode() && !args.isObject()) {
            throw new IllegalArgumentException("args must be a JSON object of param = value, as in {\"duration\": \"5m\"}, got "
                    + args.getNodeType().name().toLowerCase());
        }
        JsonNode given = args == null || !args.isObject() ? Json.object() : args;
        Set<String> unknown = new LinkedHashSet<>();
        for (Iterator<String> it = given.fieldNames(); it.hasNext(); ) {
            String n = it.next();
            if (params.stream().noneMatch(p -> p.name().equals(n))) {
                unknown.add(n);
            }
        }
        if (!unknown.isEmpty()) {
            problems.add("unknown argument" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown)
                    + " (job " + name + " takes " + (params.isEmpty() ? "none" : signature()) + ")");
        }
        List<String> missing = new ArrayList<>();
        for (Param p : params) {
            JsonNode v = given.get(p.name());
            if (v == null) {
                if (p.fallback().isPresent()) {
                    values.set(p.name(), p.fallback().get().deepCopy());
                } else {
                    missing.add(p.name() + " (" + p.type().id() + ")");
                }
                continue;
            }
            if (!p.type().accepts(v)) {
                problems.add("argument " + p.name() + " must be " + p.type().expected() + ", got " + describe(v));
                continue;
            }
            values.set(p.name(), v.deepCopy());
        }
        if (!missing.isEmpty()) {
            problems.addFirst("missing argument" + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing));
        }
        if (problems.isEmpty() && offsets(values)[steps.size()] > Durations.MAX_MILLIS) {
            problems.add("its waits add up to more than 366 days");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        return values;
    }

    /** {@code duration: Duration = "5m", level: Int32} */
    String signature() {
        List<String> parts = new ArrayList<>();
        for (Param p : params) {
            parts.add(p.name() + ": " + p.type().id() + p.fallback().map(f -> " = " + f).orElse(""));
        }
        return String.join(", ", parts);
    }

    /** Defaults where there are some, samples elsewhere: for checks that need some value of each parameter. */
    private ObjectNode bindDefaultsForCheck() {
        ObjectNode values = Json.object();
        for (Param p : params) {
            values.set(p.name(), p.fallback().orElse(p.type() == JobParamType.DURATION
                    ? JsonNodeFactory.instance.textNode("0s") : p.type().sample()));
        }
        return values;
    }

    /**
     * When each step is due, in milliseconds after the start, for a run with {@code values}; the last element, one
     * past the steps, is when the job ends (its deadline).
     */
    long[] offsets(ObjectNode values) {
        long[] due = new long[steps.size() + 1];
        long t = 0;
        for (int i = 0; i < steps.size(); i++) {
            due[i] = t;
            if (steps.get(i) instanceof Wait w) {
                t += waitMillis(w, values);
            }
        }
        due[steps.size()] = t;
        return due;
    }

    /** How long {@code w} waits in a run with {@code values}. */
    static long waitMillis(Wait w, ObjectNode values) {
        Matcher m = PLACEHOLDER.matcher(w.duration());
        String text = m.matches() ? values.path(m.group(1)).asText("") : w.duration();
        OptionalLong ms = Durations.parse(text);
        return ms.orElse(0);
    }

    /** {@code template} with every string {@code "{name}"} replaced by the value of parameter {@code name} (keeping its JSON type). */
    static JsonNode resolve(JsonNode template, ObjectNode values) {
        if (template.isTextual()) {
            Matcher m = PLACEHOLDER.matcher(template.asText());
            if (m.matches() && values.has(m.group(1))) {
                return values.get(m.group(1)).deepCopy();
            }
            return template;
        }
        if (template.isObject()) {
            ObjectNode out = Json.object();
            for (Iterator<Map.Entry<String, JsonNode>> it = template.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                out.set(e.getKey(), resolve(e.getValue(), values));
            }
            return out;
        }
        if (template.isArray()) {
            ArrayNode out = Json.MAPPER.createArrayNode();
            for (JsonNode n : template) {
                out.add(resolve(n, values));
            }
            return out;
        }
        return template;
    }

    /** The definition in the shape it was written in (without {@code where}); {@link #parse} reads it back. */
    public ObjectNode toJson() {
        ObjectNode o = Json.object();
        o.put("name", name);
        driver.ifPresent(d -> o.put("driver", d));
        if (!description.isEmpty()) {
            o.put("description", description);
        }
        ObjectNode ps = o.putObject("params");
        for (Param p : params) {
            if (p.fallback().isPresent()) {
                ps.putArray(p.name()).add(p.type().id()).add(p.fallback().get());
            } else {
                ps.put(p.name(), p.type().id());
            }
        }
        ArrayNode st = o.putArray("steps");
        for (Step s : steps) {
            st.add(stepJson(s));
        }
        ArrayNode ne = o.putArray("neutral");
        for (Call c : neutral) {
            ne.add(stepJson(c));
        }
        return o;
    }

    private static ObjectNode stepJson(Step s) {
        ObjectNode o = Json.object();
        switch (s) {
            case Call c -> {
                o.put("call", c.function());
                o.set("args", c.args);
            }
            case Wait w -> o.put("wait", w.duration());
        }
        return o;
    }

    private static String describe(JsonNode v) {
        String text = v.toString();
        return (text.length() > 40 ? text.substring(0, 40) + "..." : text) + " (" + v.getNodeType().name().toLowerCase() + ")";
    }
}
