package io.junction.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.PasswordHash;
import io.junction.core.state.StateRecord;
import io.junction.core.config.JunctionConfig;
import io.junction.store.state.SqliteStateStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Users, roles and tokens through a whole server: the admin created from {@code JUNCTION_ADMIN_PASSWORD}, a user added
 * over the API, what each may call, the routes devices use without a token, and logins that survive a restart.
 */
class AuthEndToEndTest {

    @TempDir
    Path dir;

    private final HttpClient anonymous = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private Junction node;

    private Junction start() {
        JunctionConfig config = Clients.config(dir, "never", "");
        node = Junction.start(config);
        return node;
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    private HttpResponse<String> send(int port, String method, String path, String token, String body)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return anonymous.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String login(int port, String user, String password) throws Exception {
        HttpResponse<String> r = send(port, "POST", "/api/auth/login", null,
                Json.object().put("username", user).put("password", password).toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.parse(r.body()).get("token").asText();
    }

    @Test
    void withoutATokenOnlyHealthMetricsAndLoginAnswer() throws Exception {
        int http = start().httpPort();

        assertThat(send(http, "GET", "/api/health", null, null).statusCode()).isEqualTo(200);
        assertThat(send(http, "GET", "/metrics", null, null).statusCode()).isEqualTo(200);
        HttpResponse<String> devices = send(http, "GET", "/api/devices", null, null);
        assertThat(devices.statusCode()).isEqualTo(401);
        assertThat(Json.parse(devices.body()).get("detail").asText()).contains("POST /api/auth/login");
        assertThat(send(http, "POST", "/api/commands", null, "{}").statusCode()).isEqualTo(401);
        assertThat(send(http, "GET", "/api/users", null, null).statusCode()).isEqualTo(401);

        HttpResponse<String> wrong = send(http, "POST", "/api/auth/login", null, "{\"username\":\"admin\",\"password\":\"not-it-at-all\"}");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(login(http, "admin", Clients.ADMIN_PASSWORD)).isNotBlank();
    }

    @Test
    void aUserAddedByTheAdministratorMayReadButNotChange() throws Exception {
        int http = start().httpPort();
        String admin = login(http, "admin", Clients.ADMIN_PASSWORD);

        HttpResponse<String> created = send(http, "POST", "/api/users", admin,
                "{\"username\":\"viewer\",\"password\":\"viewer-password\",\"role\":\"user\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        String viewer = login(http, "viewer", "viewer-password");

        assertThat(send(http, "GET", "/api/devices", viewer, null).statusCode()).isEqualTo(200);
        JsonNode me = Json.parse(send(http, "GET", "/api/auth/me", viewer, null).body());
        assertThat(me.get("user").asText()).isEqualTo("viewer");
        assertThat(me.get("role").asText()).isEqualTo("user");
        HttpResponse<String> command = send(http, "POST", "/api/commands", viewer, "{\"key\":\"a.b\",\"body\":{\"value\":1}}");
        assertThat(command.statusCode()).isEqualTo(403);
        assertThat(Json.parse(command.body()).get("detail").asText()).contains("needs the role support");
        assertThat(send(http, "GET", "/api/users", viewer, null).statusCode()).isEqualTo(403);

        assertThat(send(http, "POST", "/api/auth/logout", viewer, null).statusCode()).isEqualTo(204);
        assertThat(send(http, "GET", "/api/devices", viewer, null).statusCode()).isEqualTo(401);
    }

    @Test
    void aDeviceDownloadsAFirmwareImageWithoutAToken() throws Exception {
        int http = start().httpPort();
        byte[] image = "firmware image bytes for the test".repeat(20).getBytes();
        HttpResponse<String> upload = anonymous.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + http + "/api/ota/packages?version=1.0.0&target=model-x"))
                .header("Authorization", "Bearer " + login(http, "admin", Clients.ADMIN_PASSWORD))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(image)).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(upload.statusCode()).as(upload.body()).isEqualTo(201);
        String id = Json.parse(upload.body()).get("id").asText();

        HttpResponse<byte[]> download = anonymous.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/ota/images/" + id))
                .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());

        assertThat(download.statusCode()).isEqualTo(200);
        assertThat(download.body()).isEqualTo(image);
    }

    @Test
    void theLiveWebSocketNeedsAToken() throws Exception {
        int http = start().httpPort();
        URI ws = URI.create("ws://127.0.0.1:" + http + "/api/ws");

        assertThatThrownBy(() -> anonymous.newWebSocketBuilder().buildAsync(ws, new WebSocket.Listener() { })
                .orTimeout(10, TimeUnit.SECONDS).join())
                .isInstanceOf(CompletionException.class).hasCauseInstanceOf(WebSocketHandshakeException.class);

        try (Clients.Ws client = new Clients.Ws(http)) {
            client.send("{\"op\":\"subscribe\",\"pattern\":\"#\"}");
            assertThat(client.next("subscribed", 10)).isNotNull();
        }
    }

    @Test
    void usersAndTokensSurviveARestartAndTheStateHoldsNoSecrets() throws Exception {
        int http = start().httpPort();
        String admin = login(http, "admin", Clients.ADMIN_PASSWORD);
        HttpResponse<String> apiToken = send(http, "POST", "/api/auth/tokens", admin, "{\"name\":\"restart check\"}");
        assertThat(apiToken.statusCode()).isEqualTo(201);
        String token = Json.parse(apiToken.body()).get("token").asText();
        node.close();
        node = null;

        int again = start().httpPort();

        assertThat(send(again, "GET", "/api/auth/me", token, null).statusCode()).isEqualTo(200);
        assertThat(send(again, "GET", "/api/auth/me", admin, null).statusCode()).isEqualTo(200);
        node.close();
        node = null;
        assertThat(dir.resolve("data").resolve("auth")).as("users and tokens are in the state port, not in files of their own")
                .doesNotExist();
        try (SqliteStateStore state = SqliteStateStore.open(dir.resolve("data"), java.time.Clock.systemUTC())) {
            assertThat(state.get("users", "admin").orElseThrow().json()).contains(PasswordHash.PREFIX)
                    .doesNotContain(Clients.ADMIN_PASSWORD);
            assertThat(state.list("tokens")).extracting(StateRecord::key).contains(sha256(token), sha256(admin));
            assertThat(state.list("tokens")).extracting(StateRecord::json).noneMatch(j -> j.contains(token) || j.contains(admin));
        }
        try (var files = Files.walk(dir.resolve("data").resolve("state"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String bytes = new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1);
                assertThat(bytes).as(f.toString()).doesNotContain(token).doesNotContain(admin).doesNotContain(Clients.ADMIN_PASSWORD);
            }
        }
    }

    @Test
    void theAuthFolderOfAnOlderJunctionIsImportedOnTheFirstStart() throws Exception {
        Path auth = Files.createDirectories(dir.resolve("data").resolve("auth"));
        String oldToken = "an-api-token-an-older-junction-issued-0000000";
        Files.writeString(auth.resolve("users.json"), """
                {
                  "version" : 1,
                  "users" : [ {
                    "username" : "admin",
                    "role" : "administrator",
                    "password" : "%s",
                    "created" : "2025-06-01T10:00:00Z"
                  } ]
                }""".formatted(PasswordHash.hash("the-old-admin-password".toCharArray())));
        Files.writeString(auth.resolve("tokens.json"), """
                {
                  "version" : 1,
                  "tokens" : [ {
                    "id" : "ARdKDm4y9RkY",
                    "user" : "admin",
                    "kind" : "api",
                    "name" : "backup script",
                    "sha256" : "%s",
                    "created" : "2025-06-01T10:01:00Z",
                    "expires" : null
                  } ]
                }""".formatted(sha256(oldToken)));

        int http = start().httpPort();

        assertThat(send(http, "GET", "/api/auth/me", oldToken, null).statusCode()).isEqualTo(200);
        login(http, "admin", "the-old-admin-password");
        HttpResponse<String> configured = send(http, "POST", "/api/auth/login", null,
                Json.object().put("username", "admin").put("password", Clients.ADMIN_PASSWORD).toString());
        assertThat(configured.statusCode()).as("the imported admin is kept, not created again").isEqualTo(401);
        assertThat(auth.resolve("users.json.imported")).exists();
        assertThat(auth.resolve("users.json")).doesNotExist();
    }

    private static String sha256(String token) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(token.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
