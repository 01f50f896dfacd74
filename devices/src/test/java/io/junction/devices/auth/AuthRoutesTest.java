package io.junction.devices.auth;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.testing.MemoryStateStore;
import io.junction.core.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The auth routes as the HTTP endpoint calls them: looked up in a {@link RouteTable}, given the caller the endpoint
 * authenticated with {@link Accounts} (the endpoint's own 401/403 are tested with the API server).
 */
class AuthRoutesTest {

    private static final String ADMIN_PASSWORD = "route-admin-pass";

    @TempDir
    Path dir;

    private Accounts accounts;
    private final RouteTable routes = new RouteTable();

    @BeforeEach
    void setUp() {
        MutableClock clock = new MutableClock(Instant.parse("2025-06-01T10:00:00Z"));
        accounts = Accounts.open(new MemoryStateStore(clock), dir, new AuthSettings(Optional.of(ADMIN_PASSWORD), 12), clock);
        new AuthRoutes(accounts).register(routes);
    }

    @AfterEach
    void tearDown() {
        accounts.close();
    }

    private record Reply(int status, JsonNode json, ApiResponse response) {
    }

    /** Calls a route that must refuse with {@code status}; the problem's detail, which says why. */
    private String refused(int status, Method method, String path, String token, String body) throws Exception {
        Reply r = call(method, path, token, body);
        assertThat(r.status()).isEqualTo(status);
        return r.json().get("detail").asText();
    }

    /** Calls a route as the endpoint would: the caller is whoever the bearer token belongs to. */
    private Reply call(Method method, String path, String token, String body) throws Exception {
        RouteTable.Found f = (RouteTable.Found) routes.lookup(method.name(), path);
        Map<String, List<String>> headers = token == null ? Map.of() : Map.of("authorization", List.of("Bearer " + token));
        Optional<Principal> caller = token == null ? Optional.empty() : accounts.authenticate(token);
        ApiRequest request = new ApiRequest(method, path, f.pathParams(), Map.of(), headers,
                body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8), caller);
        ApiResponse response;
        try {
            response = f.handler().handle(request);
        } catch (ApiException e) {
            response = e.toResponse();
        }
        JsonNode json = response.body().length == 0 ? null : Json.parse(response.bodyText());
        return new Reply(response.status(), json, response);
    }

    private String login(String user, String password) throws Exception {
        Reply r = call(Method.POST, "/api/auth/login", null,
                Json.object().put("username", user).put("password", password).toString());
        assertThat(r.status()).as(r.json().toString()).isEqualTo(200);
        return r.json().get("token").asText();
    }

    @Test
    void loginAnswersATokenWithTheUserRoleAndExpiry() throws Exception {
        Reply r = call(Method.POST, "/api/auth/login", null, "{\"username\":\"admin\",\"password\":\"" + ADMIN_PASSWORD + "\"}");

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().get("user").asText()).isEqualTo("admin");
        assertThat(r.json().get("role").asText()).isEqualTo("administrator");
        assertThat(r.json().get("expires").asText()).isEqualTo("2025-06-01T22:00:00Z");
        assertThat(accounts.authenticate(r.json().get("token").asText())).contains(new Principal("admin", Role.ADMINISTRATOR));
        assertThat(r.response().headers()).containsEntry("Cache-Control", "no-store");
    }

    @Test
    void aFailedLoginAnswers401WithTheSameMessageWhetherTheUserExistsOrNot() throws Exception {
        Reply wrongPassword = call(Method.POST, "/api/auth/login", null, "{\"username\":\"admin\",\"password\":\"wrong-password\"}");
        Reply noUser = call(Method.POST, "/api/auth/login", null, "{\"username\":\"ghost\",\"password\":\"wrong-password\"}");

        assertThat(wrongPassword.status()).isEqualTo(401);
        assertThat(noUser.status()).isEqualTo(401);
        assertThat(noUser.json()).isEqualTo(wrongPassword.json());
        assertThat(wrongPassword.json().get("detail").asText()).isEqualTo("the username or password is wrong");
    }

    @Test
    void aMalformedLoginBodyIsABadRequestThatSaysWhatIsWrong() throws Exception {
        assertThat(call(Method.POST, "/api/auth/login", null, "{\"username\":\"admin\"}").json().get("detail").asText())
                .contains("\"password\" is missing");
        assertThat(call(Method.POST, "/api/auth/login", null, "{\"username\":\"admin\",\"password\":1234}").json().get("detail").asText())
                .contains("must be a string");
        assertThat(refused(400, Method.POST, "/api/auth/login", null, "{\"user\":\"admin\",\"password\":\"x\"}"))
                .contains("unknown field \"user\"");
        assertThat(call(Method.POST, "/api/auth/login", null, "[]").status()).isEqualTo(400);
    }

    @Test
    void eachRouteNeedsTheRoleItIsFor() {
        assertThat(access(Method.POST, "/api/auth/login")).isEqualTo(Access.OPEN);
        assertThat(access(Method.POST, "/api/auth/logout")).isEqualTo(Access.USER);
        assertThat(access(Method.GET, "/api/auth/me")).isEqualTo(Access.USER);
        assertThat(access(Method.POST, "/api/auth/tokens")).isEqualTo(Access.USER);
        assertThat(access(Method.GET, "/api/auth/tokens")).isEqualTo(Access.USER);
        assertThat(access(Method.DELETE, "/api/auth/tokens/abc")).isEqualTo(Access.USER);
        assertThat(access(Method.GET, "/api/users")).isEqualTo(Access.ADMINISTRATOR);
        assertThat(access(Method.POST, "/api/users")).isEqualTo(Access.ADMINISTRATOR);
        assertThat(access(Method.GET, "/api/users/x")).isEqualTo(Access.ADMINISTRATOR);
        assertThat(access(Method.PUT, "/api/users/x")).isEqualTo(Access.ADMINISTRATOR);
        assertThat(access(Method.DELETE, "/api/users/x")).isEqualTo(Access.ADMINISTRATOR);
    }

    private Access access(Method m, String path) {
        return ((RouteTable.Found) routes.lookup(m.name(), path)).access();
    }

    @Test
    void meTellsWhoTheCallerIsAndWhichTokenTheyUse() throws Exception {
        String token = login("admin", ADMIN_PASSWORD);

        Reply me = call(Method.GET, "/api/auth/me", token, null);

        assertThat(me.status()).isEqualTo(200);
        assertThat(me.json().get("user").asText()).isEqualTo("admin");
        assertThat(me.json().get("role").asText()).isEqualTo("administrator");
        assertThat(me.json().at("/token/kind").asText()).isEqualTo("login");
        assertThat(me.json().at("/token/current").asBoolean()).isTrue();
        assertThat(me.json().toString()).doesNotContain(token);
    }

    @Test
    void anApiTokenIsShownOnceListedWithoutItsSecretAndRevokedById() throws Exception {
        String session = login("admin", ADMIN_PASSWORD);

        Reply created = call(Method.POST, "/api/auth/tokens", session, "{\"name\":\"nightly export\"}");
        assertThat(created.status()).isEqualTo(201);
        String apiToken = created.json().get("token").asText();
        String id = created.json().get("id").asText();
        assertThat(created.json().get("expires").isNull()).isTrue();
        assertThat(call(Method.GET, "/api/auth/me", apiToken, null).json().at("/token/name").asText()).isEqualTo("nightly export");

        Reply list = call(Method.GET, "/api/auth/tokens", session, null);
        assertThat(list.json().get("tokens")).hasSize(2);
        assertThat(list.json().toString()).doesNotContain(apiToken).doesNotContain(session).doesNotContain("\"token\"");
        assertThat(list.json().findValuesAsText("name")).containsExactlyInAnyOrder("login", "nightly export");

        assertThat(call(Method.DELETE, "/api/auth/tokens/" + id, session, null).status()).isEqualTo(204);
        assertThat(accounts.authenticate(apiToken)).isEmpty();
        assertThat(call(Method.DELETE, "/api/auth/tokens/" + id, session, null).status()).isEqualTo(404);
    }

    @Test
    void logoutRevokesTheCallersToken() throws Exception {
        String token = login("admin", ADMIN_PASSWORD);

        assertThat(call(Method.POST, "/api/auth/logout", token, null).status()).isEqualTo(204);

        assertThat(accounts.authenticate(token)).isEmpty();
        assertThat(call(Method.GET, "/api/auth/me", token, null).status()).isEqualTo(401);
    }

    @Test
    void anAdministratorManagesUsers() throws Exception {
        String admin = login("admin", ADMIN_PASSWORD);

        Reply created = call(Method.POST, "/api/users", admin, "{\"username\":\"jo\",\"password\":\"jo-password\",\"role\":\"support\"}");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("role").asText()).isEqualTo("support");
        assertThat(created.json().has("password")).isFalse();
        assertThat(created.response().headers()).containsEntry("Location", "/api/users/jo");
        assertThat(call(Method.POST, "/api/users", admin, "{\"username\":\"jo\",\"password\":\"jo-password\",\"role\":\"user\"}").status())
                .isEqualTo(409);

        assertThat(call(Method.GET, "/api/users", admin, null).json().get("users").findValuesAsText("username"))
                .containsExactly("admin", "jo");
        assertThat(call(Method.GET, "/api/users/jo", admin, null).json().get("role").asText()).isEqualTo("support");
        assertThat(call(Method.GET, "/api/users/nobody", admin, null).status()).isEqualTo(404);

        String jo = login("jo", "jo-password");
        Reply changed = call(Method.PUT, "/api/users/jo", admin, "{\"role\":\"user\",\"password\":\"jo-new-password\"}");
        assertThat(changed.status()).isEqualTo(200);
        assertThat(changed.json().get("role").asText()).isEqualTo("user");
        assertThat(accounts.authenticate(jo)).contains(new Principal("jo", Role.USER));
        assertThat(accounts.login("jo", "jo-new-password".toCharArray(), "test")).isPresent();

        assertThat(call(Method.DELETE, "/api/users/jo", admin, null).status()).isEqualTo(204);
        assertThat(accounts.authenticate(jo)).isEmpty();
        assertThat(call(Method.GET, "/api/users/jo", admin, null).status()).isEqualTo(404);
    }

    @Test
    void userChangesAreCheckedWithClearErrors() throws Exception {
        String admin = login("admin", ADMIN_PASSWORD);

        assertThat(refused(400, Method.POST, "/api/users", admin, "{\"username\":\"kim\",\"password\":\"kim-password\",\"role\":\"root\"}"))
                .contains("unknown role 'root'", "user, support or administrator");
        assertThat(refused(400, Method.POST, "/api/users", admin, "{\"username\":\"kim\",\"password\":\"short\",\"role\":\"user\"}"))
                .contains("at least 8 characters");
        Reply badName = call(Method.POST, "/api/users", admin, "{\"username\":\"kim/../x\",\"password\":\"kim-password\",\"role\":\"user\"}");
        assertThat(badName.status()).isEqualTo(400);
        assertThat(call(Method.PUT, "/api/users/admin", admin, "{}").status()).isEqualTo(400);

        assertThat(refused(409, Method.DELETE, "/api/users/admin", admin, null)).contains("last administrator");
        assertThat(call(Method.PUT, "/api/users/admin", admin, "{\"role\":\"user\"}").status()).isEqualTo(409);
    }

    @Test
    void theUserRoutesRefuseAnyoneButAnAdministratorEvenWhenCalledDirectly() throws Exception {
        accounts.createUser("lee", "lee-password".toCharArray(), Role.SUPPORT);
        String lee = login("lee", "lee-password");

        assertThat(refused(403, Method.GET, "/api/users", lee, null))
                .contains("needs the role administrator", "'lee' has support");
        assertThat(call(Method.POST, "/api/users", null, "{}").status()).isEqualTo(401);
    }

    @Test
    void aUserChangesTheirOwnPasswordGivenTheCurrentOne() throws Exception {
        accounts.createUser("max", "max-password".toCharArray(), Role.USER);
        String max = login("max", "max-password");

        assertThat(call(Method.POST, "/api/auth/password", max, "{\"current\":\"wrong-one\",\"password\":\"max-new-password\"}").status())
                .isEqualTo(403);
        assertThat(call(Method.POST, "/api/auth/password", max, "{\"current\":\"max-password\",\"password\":\"max-new-password\"}").status())
                .isEqualTo(204);

        assertThat(accounts.login("max", "max-new-password".toCharArray(), "test")).isPresent();
    }
}
