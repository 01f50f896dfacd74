package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks the arguments of a call against a function's metadata before it reaches the module: by name (a JSON object)
 * or by position (a JSON array); defaults fill what is left out; missing, unknown and wrongly typed arguments are
 * refused with one message that names them all.
 */
public final class Arguments {

    private Arguments() {
    }

    /** The arguments in parameter order, defaults filled in; throws {@link ExecException} {@code BAD_REQUEST}. */
    public static List<JsonNode> check(String module, FunctionSpec f, JsonNode args) {
        List<Param> params = f.params();
        JsonNode[] values = new JsonNode[params.size()];
        List<String> problems = new ArrayList<>();
        if (args == null || args.isNull() || args.isMissingNode()) {
            // no arguments
        } else if (args.isArray()) {
            if (args.size() > params.size()) {
                problems.add("it takes " + params.size() + " argument" + (params.size() == 1 ? "" : "s") + " but got " + args.size());
            }
            for (int i = 0; i < Math.min(args.size(), params.size()); i++) {
                values[i] = args.get(i);
            }
        } else if (args.isObject()) {
            Set<String> unknown = new LinkedHashSet<>();
            Iterator<String> names = args.fieldNames();
            while (names.hasNext()) {
                String n = names.next();
                int i = indexOf(params, n);
                if (i < 0) {
                    unknown.add(n);
                } else {
                    values[i] = args.get(n);
                }
            }
            if (!unknown.isEmpty()) {
                problems.add("unknown argument" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown));
            }
        } else {
            throw new ExecException(ExecException.Code.BAD_REQUEST, call(module, f)
                    + ": arguments must be a JSON object (by name) or array (by position), got " + args.getNodeType().name().toLowerCase());
        }
        List<String> missing = new ArrayList<>();
        List<JsonNode> out = new ArrayList<>(params.size());
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            JsonNode v = values[i];
            if (v == null) {
                if (p.fallback().isPresent()) {
                    out.add(p.fallback().get());
                    continue;
                }
                missing.add(p.name() + " (" + p.typeText() + ")");
                out.add(NullNode.getInstance());
                continue;
            }
            if (!p.accepts(v)) {
                problems.add("argument " + p.name() + " must be " + p.typeText() + ", got " + describe(v));
            }
            out.add(v);
        }
        if (!missing.isEmpty()) {
            problems.addFirst("missing argument" + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing));
        }
        if (!problems.isEmpty()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, call(module, f) + ": " + String.join("; ", problems));
        }
        return out;
    }

    private static int indexOf(List<Param> params, String name) {
        for (int i = 0; i < params.size(); i++) {
            if (params.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    private static String call(String module, FunctionSpec f) {
        StringBuilder b = new StringBuilder(module).append('.').append(f.name()).append('(');
        for (int i = 0; i < f.params().size(); i++) {
            Param p = f.params().get(i);
            b.append(i == 0 ? "" : ", ").append(p.name()).append(": ").append(p.typeText());
        }
        return b.append(')').toString();
    }

    private static String describe(JsonNode v) {
        String text = v.toString();
        return (text.length() > 40 ? text.substring(0, 40) + "..." : text) + " (" + v.getNodeType().name().toLowerCase() + ")";
    }
}
