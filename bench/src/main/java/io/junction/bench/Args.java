package io.junction.bench;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** Plain {@code --name value} / {@code --flag} option parsing with a clear message for anything unexpected. */
final class Args {

    /** A bad command line; the message says what to write instead. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, String> values = new HashMap<>();

    Args(String[] args, int from, Set<String> withValue, Set<String> flags) throws UsageException {
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            String name = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            if (flags.contains(name)) {
                if (value != null) {
                    throw new UsageException(name + " takes no value");
                }
                values.put(name, "true");
            } else if (withValue.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.length) {
                        throw new UsageException(name + " needs a value");
                    }
                    value = args[++i];
                }
                values.put(name, value);
            } else {
                throw new UsageException("unknown option '" + a + "'");
            }
        }
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    String string(String name, String def) {
        return values.getOrDefault(name, def);
    }

    int integer(String name, int def, int min, int max) throws UsageException {
        return number(name, def, min, max, Integer::parseInt, "a whole number");
    }

    double decimal(String name, double def, double min, double max) throws UsageException {
        return number(name, def, min, max, Double::parseDouble, "a number");
    }

    /** The value of {@code name} parsed by {@code parse}, {@code def} when absent; outside [min, max] (or NaN) is refused. */
    private <N extends Number> N number(String name, N def, N min, N max, Function<String, N> parse, String expects)
            throws UsageException {
        String v = values.get(name);
        if (v == null) {
            return def;
        }
        N n;
        try {
            n = parse.apply(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " expects " + expects + ", got '" + v + "'");
        }
        if (!(n.doubleValue() >= min.doubleValue() && n.doubleValue() <= max.doubleValue())) {
            throw new UsageException(name + " must be between " + min + " and " + max + ", got " + v);
        }
        return n;
    }
}
