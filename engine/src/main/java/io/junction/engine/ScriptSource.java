package io.junction.engine;

import io.junction.core.RoutingPattern;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A script as it is stored: its name, language, code and the routing-key patterns it is bound to.
 *
 * @param code   the UTF-8 source text for JavaScript and Python, the module's bytes for WASM
 * @param origin {@code api} when stored through the API, {@code plugin} when read from the plugins folder
 * @param owner  who stored it: the script's {@code exec} calls run as this user, with this role
 */
public record ScriptSource(String name, Language language, byte[] code, List<RoutingPattern> bind, String origin,
                           io.junction.core.auth.Principal owner) {

    /** A script without a known owner: its exec calls run with the least role. */
    public static final io.junction.core.auth.Principal NO_OWNER =
            new io.junction.core.auth.Principal("anonymous", io.junction.core.auth.Role.USER);

    public ScriptSource(String name, Language language, byte[] code, List<RoutingPattern> bind, String origin) {
        this(name, language, code, bind, origin, NO_OWNER);
    }

    /** A script name is also a file name and a metric tag: letters, digits, '_' and '-', starting with a letter or digit. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");
    static final int MAX_CODE_BYTES = 16 * 1024 * 1024;
    static final int MAX_BIND = 100;

    public ScriptSource {
        String problem = nameProblem(name);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (code.length == 0) {
            throw new IllegalArgumentException("the script's source is empty");
        }
        if (code.length > MAX_CODE_BYTES) {
            throw new IllegalArgumentException("the script's source is " + code.length + " bytes; at most "
                    + MAX_CODE_BYTES + " are accepted");
        }
        if (bind.isEmpty()) {
            throw new IllegalArgumentException("\"bind\" needs at least one routing-key pattern, such as \"bedroom.*.temperature\" or \"#\"");
        }
        if (bind.size() > MAX_BIND) {
            throw new IllegalArgumentException("\"bind\" has " + bind.size() + " patterns; at most " + MAX_BIND + " are accepted");
        }
        bind = List.copyOf(bind);
    }

    /** Why {@code name} cannot name a script, or null when it can. */
    public static String nameProblem(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            return "invalid script name '" + name + "': use 1 to 64 letters, digits, '_' and '-', starting with a letter or digit";
        }
        return null;
    }

    String text() {
        return new String(code, StandardCharsets.UTF_8);
    }

    boolean matches(io.junction.core.RoutingKey key) {
        for (RoutingPattern p : bind) {
            if (p.matches(key)) {
                return true;
            }
        }
        return false;
    }

    List<String> bindValues() {
        return bind.stream().map(RoutingPattern::value).toList();
    }
}
