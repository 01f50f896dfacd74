package io.junction.devices.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The HTTP routes of logins, tokens and users: {@code /api/auth/...} for everyone who has an account, {@code /api/users}
 * for administrators. They check the body and hand the rest to {@link Accounts}.
 */
public final class AuthRoutes {

    private static final String WRONG_LOGIN = "the username or password is wrong";

    private final Accounts accounts;

    public AuthRoutes(Accounts accounts) {
        this.accounts = Objects.requireNonNull(accounts, "accounts");
    }

    public void register(RouteTable t) {
        t.add(Method.POST, "/api/auth/login", Access.OPEN, this::login);
        t.add(Method.POST, "/api/auth/logout", Access.USER, this::logout);
        t.add(Method.GET, "/api/auth/me", Access.USER, this::me);
        t.add(Method.POST, "/api/auth/password", Access.USER, this::changePassword);
        t.add(Method.POST, "/api/auth/tokens", Access.USER, this::createToken);
        t.add(Method.GET, "/api/auth/tokens", Access.USER, this::listTokens);
        t.add(Method.DELETE, "/api/auth/tokens/{id}", Access.USER, this::revokeToken);

        t.add(Method.GET, "/api/users", Access.ADMINISTRATOR, r -> {
            r.require(Role.ADMINISTRATOR);
            return ApiResponse.json(Map.of("users", accounts.users().stream().map(AuthRoutes::userJson).toList()));
        });
        t.add(Method.POST, "/api/users", Access.ADMINISTRATOR, this::createUser);
        t.add(Method.GET, "/api/users/{name}", Access.ADMINISTRATOR, r -> {
            r.require(Role.ADMINISTRATOR);
            String name = r.pathParam("name");
            return ApiResponse.json(userJson(accounts.user(name).orElseThrow(() -> ApiException.notFound(
                    "there is no user '" + Accounts.printable(name) + "'; GET /api/users lists them"))));
        });
        t.add(Method.PUT, "/api/users/{name}", Access.ADMINISTRATOR, this::updateUser);
        t.add(Method.DELETE, "/api/users/{name}", Access.ADMINISTRATOR, r -> {
            r.require(Role.ADMINISTRATOR);
            call(() -> accounts.deleteUser(r.pathParam("name")));
            return ApiResponse.status(204);
        });
    }

    // ---- /api/auth

    private ApiResponse login(ApiRequest r) {
        ObjectNode body = object(r, Set.of("username", "password"));
        String username = string(body, "username");
        char[] password = string(body, "password").toCharArray();
        try {
            Accounts.Issued issued = accounts.login(username, password, from(r))
                    .orElseThrow(() -> new ApiException(401, "unauthorized", WRONG_LOGIN, Map.of("WWW-Authenticate", "Bearer")));
            Accounts.User user = accounts.user(username).orElseThrow(() -> new ApiException(401, "unauthorized", WRONG_LOGIN));
            ObjectNode out = Json.object()
                    .put("token", issued.token())
                    .put("user", user.username())
                    .put("role", user.role().id())
                    .put("expires", issued.info().expires().map(Object::toString).orElse(null));
            return ApiResponse.json(out).withHeader("Cache-Control", "no-store");
        } finally {
            Arrays.fill(password, '\0');
        }
    }

    private ApiResponse logout(ApiRequest r) {
        r.require(Role.USER);
        bearer(r).ifPresent(accounts::logout);
        return ApiResponse.status(204);
    }

    private ApiResponse me(ApiRequest r) {
        Principal p = r.require(Role.USER);
        ObjectNode out = Json.object().put("user", p.user()).put("role", p.role().id());
        bearer(r).flatMap(accounts::tokenInfo).ifPresent(t -> out.set("token", tokenJson(t, true)));
        return ApiResponse.json(out);
    }

    private ApiResponse changePassword(ApiRequest r) {
        Principal p = r.require(Role.USER);
        ObjectNode body = object(r, Set.of("current", "password"));
        char[] current = string(body, "current").toCharArray();
        char[] password = string(body, "password").toCharArray();
        try {
            boolean changed = call(() -> accounts.changeOwnPassword(p.user(), current, password));
            if (!changed) {
                throw new ApiException(403, "forbidden", "the current password is wrong; the password was not changed");
            }
            return ApiResponse.status(204);
        } finally {
            Arrays.fill(current, '\0');
            Arrays.fill(password, '\0');
        }
    }

    private ApiResponse createToken(ApiRequest r) {
        Principal p = r.require(Role.USER);
        ObjectNode body = object(r, Set.of("name"));
        Accounts.Issued issued = call(() -> accounts.createApiToken(p.user(), string(body, "name")));
        ObjectNode out = tokenJson(issued.info(), false);
        out.put("token", issued.token());
        return ApiResponse.json(201, out).withHeader("Cache-Control", "no-store");
    }

    private ApiResponse listTokens(ApiRequest r) {
        Principal p = r.require(Role.USER);
        Optional<String> current = bearer(r).flatMap(accounts::tokenInfo).map(Accounts.TokenInfo::id);
        List<ObjectNode> list = accounts.tokens(p.user()).stream()
                .map(t -> tokenJson(t, current.isPresent() && current.get().equals(t.id()))).toList();
        return ApiResponse.json(Map.of("tokens", list));
    }

    private ApiResponse revokeToken(ApiRequest r) {
        Principal p = r.require(Role.USER);
        call(() -> accounts.revoke(r.pathParam("id"), p));
        return ApiResponse.status(204);
    }

    // ---- /api/users

    private ApiResponse createUser(ApiRequest r) {
        r.require(Role.ADMINISTRATOR);
        ObjectNode body = object(r, Set.of("username", "password", "role"));
        String username = string(body, "username");
        char[] password = string(body, "password").toCharArray();
        Role role = role(string(body, "role"));
        try {
            Accounts.User u = call(() -> accounts.createUser(username, password, role));
            return ApiResponse.json(201, userJson(u)).withHeader("Location", "/api/users/" + u.username());
        } finally {
            Arrays.fill(password, '\0');
        }
    }

    private ApiResponse updateUser(ApiRequest r) {
        r.require(Role.ADMINISTRATOR);
        ObjectNode body = object(r, Set.of("password", "role"));
        if (!body.has("password") && !body.has("role")) {
            throw ApiException.badRequest("send {\"password\": ...} and/or {\"role\": ...} to change a user");
        }
        Optional<char[]> password = body.has("password") ? Optional.of(string(body, "password").toCharArray()) : Optional.empty();
        Optional<Role> role = body.has("role") ? Optional.of(role(string(body, "role"))) : Optional.empty();
        try {
            return ApiResponse.json(userJson(call(() -> accounts.updateUser(r.pathParam("name"), password, role))));
        } finally {
            password.ifPresent(p -> Arrays.fill(p, '\0'));
        }
    }

    // ---- helpers

    private static <T> T call(java.util.function.Supplier<T> change) {
        try {
            return change.get();
        } catch (AccountException e) {
            throw switch (e.reason()) {
                case INVALID -> ApiException.badRequest(e.getMessage());
                case NOT_FOUND -> ApiException.notFound(e.getMessage());
                case CONFLICT -> new ApiException(409, "conflict", e.getMessage());
            };
        }
    }

    private static ObjectNode object(ApiRequest r, Set<String> allowed) {
        JsonNode body = r.bodyJson();
        if (!(body instanceof ObjectNode o)) {
            throw ApiException.badRequest("the body must be a JSON object with " + String.join(", ", allowed.stream().sorted().toList()));
        }
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw ApiException.badRequest("unknown field \"" + Accounts.printable(f) + "\"; expected "
                        + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
        return o;
    }

    private static String string(ObjectNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            throw ApiException.badRequest("the field \"" + field + "\" is missing");
        }
        if (!v.isTextual()) {
            throw ApiException.badRequest("the field \"" + field + "\" must be a string, got " + v.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
        }
        return v.asText();
    }

    private static Role role(String text) {
        return Role.parse(text).orElseThrow(() -> ApiException.badRequest("unknown role '" + Accounts.printable(text)
                + "'; expected user, support or administrator"));
    }

    /** The token the request was sent with, found where the HTTP endpoint finds it. */
    private static Optional<String> bearer(ApiRequest r) {
        for (String v : r.headers().getOrDefault("authorization", List.of())) {
            if (v.regionMatches(true, 0, "Bearer ", 0, 7) && v.length() > 7) {
                return Optional.of(v.substring(7).trim());
            }
        }
        return r.query("bearer_token").filter(s -> !s.isBlank()).or(() -> r.query("token").filter(s -> !s.isBlank()));
    }

    /** Where a request came from, as far as the headers tell (the HTTP layer does not hand over the peer's address). */
    private static String from(ApiRequest r) {
        return r.header("x-forwarded-for").or(() -> r.header("x-real-ip")).orElse("unknown");
    }

    static ObjectNode userJson(Accounts.User u) {
        return Json.object().put("username", u.username()).put("role", u.role().id()).put("created", u.created().toString());
    }

    static ObjectNode tokenJson(Accounts.TokenInfo t, boolean current) {
        ObjectNode o = Json.object()
                .put("id", t.id())
                .put("name", t.name())
                .put("kind", t.kind().id())
                .put("user", t.user())
                .put("created", t.created().toString())
                .put("expires", t.expires().map(Object::toString).orElse(null));
        if (current) {
            o.put("current", true);
        }
        return o;
    }
}
