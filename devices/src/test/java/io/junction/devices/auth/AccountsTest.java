package io.junction.devices.auth;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.junction.core.auth.PasswordHash;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.testing.ForwardingStateStore;
import io.junction.core.testing.MemoryStateStore;
import io.junction.core.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Users and tokens in the state port (the in-memory adapter, which passes the same contract as SQLite; one store
 * stands for the data directory across a close and an open), and the one-time import of the files an older Junction
 * wrote in its auth folder ({@code dir}).
 */
class AccountsTest {

    private static final String ADMIN_PASSWORD = "first-admin-pass";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2025-06-01T10:00:00Z"));
    private final GatedStore state = new GatedStore(new MemoryStateStore(clock));
    private final List<Accounts> opened = new ArrayList<>();

    private final List<ListAppender<ILoggingEvent>> appenders = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(Accounts::close);
        appenders.forEach(a -> logger().detachAppender(a));
    }

    private Accounts open(Optional<String> adminPassword, long ttlHours) {
        Accounts a = Accounts.open(state, dir, new AuthSettings(adminPassword, ttlHours), clock);
        opened.add(a);
        return a;
    }

    private Accounts open() {
        return open(Optional.of(ADMIN_PASSWORD), 24);
    }

    private static String login(Accounts a, String user, String password) {
        return a.login(user, password.toCharArray(), "test").orElseThrow(() -> new AssertionError("login of " + user + " failed")).token();
    }

    @Test
    void firstStartCreatesTheAdministratorWithTheConfiguredPassword() throws Exception {
        Accounts a = open();

        assertThat(a.users()).extracting(Accounts.User::username, Accounts.User::role)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("admin", Role.ADMINISTRATOR));
        String token = login(a, "admin", ADMIN_PASSWORD);
        assertThat(a.authenticate(token)).contains(new Principal("admin", Role.ADMINISTRATOR));
        String users = state.get("users", "admin").orElseThrow().json();
        assertThat(users).contains(PasswordHash.PREFIX).doesNotContain(ADMIN_PASSWORD);
        assertThat(dir).as("nothing is written to the old auth folder").isEmptyDirectory();
    }

    @Test
    void firstStartWithoutAPasswordPrintsAGeneratedOneOnceAndLogsThatItWillNotBeShownAgain() {
        ListAppender<ILoggingEvent> logs = capture();
        PrintStream out = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        Accounts first;
        try {
            first = open(Optional.empty(), 24);
        } finally {
            System.setOut(out);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("generated password:\\s+(\\S+)").matcher(text);
        assertThat(m.find()).as("the password is printed: " + text).isTrue();
        String password = m.group(1);
        assertThat(password.length()).isGreaterThanOrEqualTo(20);
        assertThat(first.authenticate(login(first, "admin", password))).isPresent();
        assertThat(logs.list).anySatisfy(e -> {
            assertThat(e.getLevel()).isEqualTo(Level.WARN);
            assertThat(e.getFormattedMessage()).contains("will not be shown again").doesNotContain(password);
        });
        first.close();

        ByteArrayOutputStream again = new ByteArrayOutputStream();
        System.setOut(new PrintStream(again, true, StandardCharsets.UTF_8));
        try {
            Accounts second = open(Optional.of("another-password"), 24);
            assertThat(login(second, "admin", password)).isNotEmpty();
            assertThat(second.login("admin", "another-password".toCharArray(), "test")).isEmpty();
        } finally {
            System.setOut(out);
        }
        assertThat(again.toString(StandardCharsets.UTF_8)).doesNotContain(password).doesNotContain("generated");
    }

    @Test
    void usersAndTokensSurviveAReopen() {
        Accounts a = open();
        a.createUser("alice", "alice-password".toCharArray(), Role.SUPPORT);
        String loginToken = login(a, "alice", "alice-password");
        String apiToken = a.createApiToken("alice", "backup script").token();
        a.close();

        Accounts b = open(Optional.of("ignored-after-first-start"), 24);
        assertThat(b.users()).extracting(Accounts.User::username).containsExactly("admin", "alice");
        assertThat(b.user("alice").orElseThrow().role()).isEqualTo(Role.SUPPORT);
        assertThat(b.authenticate(loginToken)).contains(new Principal("alice", Role.SUPPORT));
        assertThat(b.authenticate(apiToken)).contains(new Principal("alice", Role.SUPPORT));
        assertThat(b.tokens("alice")).extracting(Accounts.TokenInfo::kind).containsExactlyInAnyOrder(Accounts.Kind.LOGIN, Accounts.Kind.API);
        assertThat(login(b, "alice", "alice-password")).isNotEmpty();
    }

    @Test
    void theStoreHoldsOnlyHashesOfTheTokens() {
        Accounts a = open();
        String loginToken = login(a, "admin", ADMIN_PASSWORD);
        String apiToken = a.createApiToken("admin", "ci").token();

        assertThat(loginToken).matches("[A-Za-z0-9_-]{43}");
        assertThat(apiToken).matches("[A-Za-z0-9_-]{43}").isNotEqualTo(loginToken);
        List<StateRecord> stored = state.list("tokens");
        assertThat(stored).extracting(StateRecord::key)
                .containsExactlyInAnyOrder(Accounts.sha256(loginToken), Accounts.sha256(apiToken));
        assertThat(stored).extracting(StateRecord::json).noneMatch(j -> j.contains(loginToken) || j.contains(apiToken));
        assertThat(dir).isEmptyDirectory();
    }

    @Test
    void aLoginTokenExpiresAfterTheTtlWhileAnApiTokenLastsUntilRevoked() {
        Accounts a = open(Optional.of(ADMIN_PASSWORD), 2);
        Accounts.Issued login = a.login("admin", ADMIN_PASSWORD.toCharArray(), "test").orElseThrow();
        String api = a.createApiToken("admin", "automation").token();
        assertThat(login.info().expires()).contains(clock.instant().plus(Duration.ofHours(2)));

        clock.advance(Duration.ofHours(2).minusSeconds(1));
        assertThat(a.authenticate(login.token())).isPresent();
        clock.advance(Duration.ofSeconds(1));
        assertThat(a.authenticate(login.token())).isEmpty();
        assertThat(a.tokenInfo(login.token())).isEmpty();
        assertThat(a.tokens("admin")).extracting(Accounts.TokenInfo::kind).containsExactly(Accounts.Kind.API);

        clock.advance(Duration.ofDays(3650));
        assertThat(a.authenticate(api)).contains(new Principal("admin", Role.ADMINISTRATOR));
        a.close();

        Accounts b = open(Optional.of(ADMIN_PASSWORD), 2);
        assertThat(b.authenticate(api)).isPresent();
        assertThat(b.authenticate(login.token())).isEmpty();
    }

    @Test
    void expiredLoginTokensAreDroppedFromTheStoreOnReopen() {
        Accounts a = open(Optional.of(ADMIN_PASSWORD), 1);
        String token = login(a, "admin", ADMIN_PASSWORD);
        a.close();
        assertThat(state.get("tokens", Accounts.sha256(token))).isPresent();

        clock.advance(Duration.ofHours(1));
        open(Optional.of(ADMIN_PASSWORD), 1);
        assertThat(state.get("tokens", Accounts.sha256(token))).isEmpty();
    }

    @Test
    void aWrongPasswordAndAnUnknownUserBothFailAndAreLogged() {
        Accounts a = open();
        ListAppender<ILoggingEvent> logs = capture();

        assertThat(a.login("admin", "not-the-password".toCharArray(), "10.1.2.3")).isEmpty();
        assertThat(a.login("nobody", "not-the-password".toCharArray(), "10.1.2.4")).isEmpty();

        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.WARN).extracting(ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains("login failed", "user=admin", "from=10.1.2.3"))
                .anySatisfy(m -> assertThat(m).contains("login failed", "user=nobody", "from=10.1.2.4"));
        assertThat(state.list("tokens")).as("no token was issued").isEmpty();
    }

    @Test
    void authenticateRefusesUnknownEmptyAndOverlongTokens() {
        Accounts a = open();
        login(a, "admin", ADMIN_PASSWORD);

        assertThat(a.authenticate("")).isEmpty();
        assertThat(a.authenticate(null)).isEmpty();
        assertThat(a.authenticate("x".repeat(43))).isEmpty();
        assertThat(a.authenticate("x".repeat(100_000))).isEmpty();
    }

    @Test
    void deletingAUserRevokesTheirTokensAndForgetsThemAfterAReopen() {
        Accounts a = open();
        a.createUser("bob", "bob-password".toCharArray(), Role.USER);
        String login = login(a, "bob", "bob-password");
        String api = a.createApiToken("bob", "cron").token();

        a.deleteUser("bob");

        assertThat(a.authenticate(login)).isEmpty();
        assertThat(a.authenticate(api)).isEmpty();
        assertThat(a.tokens("bob")).isEmpty();
        assertThat(state.list("tokens")).extracting(StateRecord::json).noneMatch(j -> j.contains("bob"));
        assertThat(state.get("users", "bob")).isEmpty();
        assertThat(a.login("bob", "bob-password".toCharArray(), "test")).isEmpty();
        a.close();
        Accounts b = open();
        assertThat(b.user("bob")).isEmpty();
        assertThat(b.authenticate(api)).isEmpty();
    }

    @Test
    void theLastAdministratorCanBeNeitherDeletedNorDemoted() {
        Accounts a = open();

        assertThatThrownBy(() -> a.deleteUser("admin")).isInstanceOf(AccountException.class)
                .hasMessageContaining("last administrator")
                .satisfies(e -> assertThat(((AccountException) e).reason()).isEqualTo(AccountException.Reason.CONFLICT));
        assertThatThrownBy(() -> a.updateUser("admin", Optional.empty(), Optional.of(Role.SUPPORT)))
                .isInstanceOf(AccountException.class).hasMessageContaining("last administrator");

        a.createUser("root2", "another-admin".toCharArray(), Role.ADMINISTRATOR);
        a.deleteUser("admin");
        assertThat(a.users()).extracting(Accounts.User::username).containsExactly("root2");
    }

    @Test
    void usernamesAndPasswordsAreCheckedWithClearMessages() {
        Accounts a = open();

        assertThatThrownBy(() -> a.createUser("bad name", "long-enough".toCharArray(), Role.USER))
                .isInstanceOf(AccountException.class).hasMessageContaining("'bad name' is not valid")
                .hasMessageContaining("1 to 64 letters, digits");
        assertThatThrownBy(() -> a.createUser("x".repeat(65), "long-enough".toCharArray(), Role.USER))
                .isInstanceOf(AccountException.class).hasMessageContaining("is not valid");
        assertThatThrownBy(() -> a.createUser("", "long-enough".toCharArray(), Role.USER))
                .isInstanceOf(AccountException.class);
        assertThatThrownBy(() -> a.createUser("carol", "short".toCharArray(), Role.USER))
                .isInstanceOf(AccountException.class).hasMessageContaining("at least 8 characters, it has 5")
                .satisfies(e -> assertThat(((AccountException) e).reason()).isEqualTo(AccountException.Reason.INVALID));
        assertThatThrownBy(() -> a.createUser("ADMIN", "long-enough".toCharArray(), Role.USER))
                .isInstanceOf(AccountException.class).hasMessageContaining("'admin' already exists")
                .satisfies(e -> assertThat(((AccountException) e).reason()).isEqualTo(AccountException.Reason.CONFLICT));
        assertThatThrownBy(() -> a.createApiToken("admin", " "))
                .isInstanceOf(AccountException.class).hasMessageContaining("needs a name");

        assertThat(a.createUser("carol.oneil", "long-enough".toCharArray(), Role.USER).username()).isEqualTo("carol.oneil");
        assertThat(a.createUser("dave@example.com", "long-enough".toCharArray(), Role.USER).username()).isEqualTo("dave@example.com");
    }

    @Test
    void aRoleChangeAppliesToTokensAlreadyIssued() {
        Accounts a = open();
        a.createUser("erin", "erin-password".toCharArray(), Role.USER);
        String api = a.createApiToken("erin", "dashboard").token();
        assertThat(a.authenticate(api)).contains(new Principal("erin", Role.USER));

        a.updateUser("erin", Optional.empty(), Optional.of(Role.SUPPORT));

        assertThat(a.authenticate(api)).contains(new Principal("erin", Role.SUPPORT));
    }

    @Test
    void aPasswordChangeTakesEffectForTheNextLogin() {
        Accounts a = open();
        a.createUser("frank", "frank-password".toCharArray(), Role.USER);

        assertThat(a.changeOwnPassword("frank", "wrong-current".toCharArray(), "frank-new-password".toCharArray())).isFalse();
        assertThat(a.changeOwnPassword("frank", "frank-password".toCharArray(), "frank-new-password".toCharArray())).isTrue();

        assertThat(a.login("frank", "frank-password".toCharArray(), "test")).isEmpty();
        assertThat(a.login("frank", "frank-new-password".toCharArray(), "test")).isPresent();
        a.updateUser("frank", Optional.of("set-by-admin".toCharArray()), Optional.empty());
        assertThat(a.login("frank", "set-by-admin".toCharArray(), "test")).isPresent();
    }

    @Test
    void logoutRevokesOnlyThatToken() {
        Accounts a = open();
        String one = login(a, "admin", ADMIN_PASSWORD);
        String two = login(a, "admin", ADMIN_PASSWORD);

        assertThat(a.logout(one)).isTrue();
        assertThat(a.logout(one)).isFalse();

        assertThat(a.authenticate(one)).isEmpty();
        assertThat(a.authenticate(two)).isPresent();
    }

    @Test
    void aTokenIsRevokedByIdByItsOwnerOrAnAdministratorOnly() {
        Accounts a = open();
        a.createUser("gina", "gina-password".toCharArray(), Role.SUPPORT);
        a.createUser("hank", "hank-password".toCharArray(), Role.SUPPORT);
        Accounts.Issued ginas = a.createApiToken("gina", "sync");
        Principal hank = new Principal("hank", Role.SUPPORT);

        assertThatThrownBy(() -> a.revoke(ginas.info().id(), hank)).isInstanceOf(AccountException.class)
                .satisfies(e -> assertThat(((AccountException) e).reason()).isEqualTo(AccountException.Reason.NOT_FOUND));
        assertThat(a.authenticate(ginas.token())).isPresent();

        a.revoke(ginas.info().id(), new Principal("admin", Role.ADMINISTRATOR));
        assertThat(a.authenticate(ginas.token())).isEmpty();

        Accounts.Issued own = a.createApiToken("gina", "sync");
        a.revoke(own.info().id(), new Principal("gina", Role.SUPPORT));
        assertThat(a.authenticate(own.token())).isEmpty();
    }

    @Test
    void apiTokenNamesAreUniquePerUser() {
        Accounts a = open();
        a.createApiToken("admin", "backup");

        assertThatThrownBy(() -> a.createApiToken("admin", "backup")).isInstanceOf(AccountException.class)
                .hasMessageContaining("already has an API token named 'backup'");
        assertThatThrownBy(() -> a.createApiToken("nobody", "backup")).isInstanceOf(AccountException.class)
                .hasMessageContaining("no user 'nobody'");
    }

    @Test
    void theLoginsOfOneUserAreBoundedByRevokingTheOldest() {
        Accounts a = open();
        String first = login(a, "admin", ADMIN_PASSWORD);
        clock.advance(Duration.ofSeconds(1));
        String second = login(a, "admin", ADMIN_PASSWORD);
        for (int i = 2; i < Accounts.MAX_LOGINS_PER_USER; i++) {
            clock.advance(Duration.ofSeconds(1));
            login(a, "admin", ADMIN_PASSWORD);
        }
        assertThat(a.authenticate(first)).isPresent();

        clock.advance(Duration.ofSeconds(1));
        String newest = login(a, "admin", ADMIN_PASSWORD);

        assertThat(a.authenticate(first)).isEmpty();
        assertThat(a.authenticate(second)).isPresent();
        assertThat(a.authenticate(newest)).isPresent();
        assertThat(a.tokens("admin")).hasSize(Accounts.MAX_LOGINS_PER_USER);
    }

    @Test
    void aDamagedOldUsersFileStopsTheStartWithTheFileAndWhatIsWrong() throws Exception {
        Files.writeString(dir.resolve("users.json"), """
                {"version": 1, "users": [{"username": "admin", "role": "superuser", "password": "x", "created": "2025-01-01T00:00:00Z"}]}
                """);
        assertThatThrownBy(this::open).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("users.json").hasMessageContaining("role 'superuser'")
                .hasMessageContaining("expected user, support or administrator");

        Files.writeString(dir.resolve("users.json"), "{not json");
        assertThatThrownBy(this::open).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("users.json is not valid JSON");
    }

    @Test
    void changesAfterCloseAreRefused() {
        Accounts a = open();
        a.close();

        assertThatThrownBy(() -> a.createUser("ivan", "ivan-password".toCharArray(), Role.USER))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    // ---- the files an older Junction wrote (captured from it: users.json and tokens.json in its auth folder)

    /** The tokens that older Junction issued into the captured tokens.json, and its passwords. */
    private static final String OLD_ALICE_LOGIN = "mndb8xPOW0pWaNqSAlleg0eKso8ji5MctMnvEaad-hU";
    private static final String OLD_ALICE_API = "V0QsKznoYf0ylcNBglWy09W7P0BmT3SOYNDmiCTNzdY";
    private static final String OLD_ADMIN_LOGIN = "W05L15Iz0fe8yxiqLZuXhrZewkzpxNt1VB7qI3trdC4";
    private static final String OLD_ADMIN_PASSWORD = "old-admin-pass";

    private static String oldFile(String name) throws Exception {
        try (var in = AccountsTest.class.getResourceAsStream("old-accounts/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private void writeOldFiles() throws Exception {
        Files.writeString(dir.resolve("users.json"), oldFile("users.json"));
        Files.writeString(dir.resolve("tokens.json"), oldFile("tokens.json"));
    }

    @Test
    void theOldAccountsFilesAreImportedOnceOnTheFirstStart() throws Exception {
        writeOldFiles();
        clock.set(Instant.parse("2025-06-01T12:00:00Z"));

        Accounts a = open(Optional.of("a-configured-password"), 24);

        assertThat(a.users()).extracting(Accounts.User::username, Accounts.User::role, Accounts.User::created).containsExactly(
                org.assertj.core.groups.Tuple.tuple("admin", Role.ADMINISTRATOR, Instant.parse("2025-06-01T10:00:00Z")),
                org.assertj.core.groups.Tuple.tuple("alice", Role.SUPPORT, Instant.parse("2025-06-01T10:00:00Z")));
        assertThat(a.login("admin", OLD_ADMIN_PASSWORD.toCharArray(), "test")).as("the old password hash is kept").isPresent();
        assertThat(a.login("admin", "a-configured-password".toCharArray(), "test")).as("no new admin is made").isEmpty();
        assertThat(a.login("alice", "alice-password".toCharArray(), "test")).isPresent();
        assertThat(a.authenticate(OLD_ALICE_LOGIN)).contains(new Principal("alice", Role.SUPPORT));
        assertThat(a.authenticate(OLD_ALICE_API)).contains(new Principal("alice", Role.SUPPORT));
        assertThat(a.authenticate(OLD_ADMIN_LOGIN)).contains(new Principal("admin", Role.ADMINISTRATOR));
        assertThat(a.tokenInfo(OLD_ALICE_API)).hasValueSatisfying(t -> {
            assertThat(t.id()).isEqualTo("ARdKDm4y9RkY");
            assertThat(t.name()).isEqualTo("backup script");
            assertThat(t.expires()).isEmpty();
        });
        assertThat(a.tokenInfo(OLD_ALICE_LOGIN)).map(Accounts.TokenInfo::expires)
                .contains(Optional.of(Instant.parse("2025-06-02T10:01:00Z")));
        assertThat(dir.resolve("users.json")).doesNotExist();
        assertThat(dir.resolve("tokens.json")).doesNotExist();
        assertThat(dir.resolve("users.json.imported")).hasContent(oldFile("users.json"));
        assertThat(dir.resolve("tokens.json.imported")).hasContent(oldFile("tokens.json"));
        assertThat(state.get("users", "alice")).isPresent();
        assertThat(state.get("tokens", Accounts.sha256(OLD_ALICE_API))).isPresent();

        a.deleteUser("alice");
        a.close();
        writeOldFiles();
        Accounts b = open();
        assertThat(b.users()).as("the store has users, so the old files are not read again").extracting(Accounts.User::username)
                .containsExactly("admin");
        assertThat(b.authenticate(OLD_ALICE_API)).isEmpty();
        assertThat(dir.resolve("users.json")).as("left alone").exists();
    }

    @Test
    void theImportLeavesOutExpiredTokensAndTokensOfUnknownUsers() throws Exception {
        com.fasterxml.jackson.databind.node.ObjectNode tokens =
                (com.fasterxml.jackson.databind.node.ObjectNode) io.junction.core.Json.parse(oldFile("tokens.json"));
        ((com.fasterxml.jackson.databind.node.ArrayNode) tokens.get("tokens")).addObject()
                .put("id", "ghostToken01").put("user", "ghost").put("kind", "api").put("name", "gone")
                .put("sha256", Accounts.sha256("ghost-token")).put("created", "2025-06-01T10:01:00Z").putNull("expires");
        Files.writeString(dir.resolve("users.json"), oldFile("users.json"));
        Files.writeString(dir.resolve("tokens.json"), io.junction.core.Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(tokens));
        clock.set(Instant.parse("2025-06-02T10:01:00Z"));

        Accounts a = open();

        assertThat(a.authenticate(OLD_ALICE_API)).isPresent();
        assertThat(a.authenticate(OLD_ALICE_LOGIN)).as("expired").isEmpty();
        assertThat(a.authenticate(OLD_ADMIN_LOGIN)).as("expired").isEmpty();
        assertThat(state.list("tokens")).extracting(StateRecord::key).containsExactly(Accounts.sha256(OLD_ALICE_API));
    }

    // ---- changes that race: compare-and-set lets one win and the other see it

    /**
     * The state store with a gate: once {@link #holdNextWrite()} is called, the next write waits (having read what it
     * builds on) until {@link #release()}, so a test can let another change win the race in between.
     */
    static final class GatedStore extends ForwardingStateStore {
        private volatile CountDownLatch arrived;
        private volatile CountDownLatch gate;

        GatedStore(StateStore inner) {
            super(inner);
        }

        void holdNextWrite() {
            arrived = new CountDownLatch(1);
            gate = new CountDownLatch(1);
        }

        void awaitHeldWrite() throws InterruptedException {
            assertThat(arrived.await(30, TimeUnit.SECONDS)).as("a write reached the gate").isTrue();
        }

        void release() {
            gate.countDown();
        }

        private synchronized CountDownLatch take() {
            CountDownLatch g = gate;
            if (g != null && arrived.getCount() > 0) {
                arrived.countDown();
                return g;
            }
            return null;
        }

        @Override
        protected void beforeWrite() {
            CountDownLatch g = take();
            if (g != null) {
                try {
                    g.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Runs {@code first} on its own thread until its write reaches the gate (it has read the state it builds on),
     * then {@code second} here, then lets the first write go on; returns what the first did (its result or its
     * exception).
     */
    private Object overtake(Callable<Object> first, Callable<Object> second) throws Exception {
        state.holdNextWrite();
        CompletableFuture<Object> firstDone = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try {
                firstDone.complete(first.call());
            } catch (Exception e) {
                firstDone.complete(e);
            }
        });
        state.awaitHeldWrite();
        second.call();
        state.release();
        return firstDone.get(30, TimeUnit.SECONDS);
    }

    @Test
    void creatingAUserThatAnotherRequestCreatesMeanwhileInAnyLetterCaseIsAConflict() throws Exception {
        Accounts a = open();

        Object first = overtake(() -> a.createUser("racer", "first-password".toCharArray(), Role.USER),
                () -> a.createUser("RACER", "second-password".toCharArray(), Role.SUPPORT));

        assertThat(first).isInstanceOf(AccountException.class);
        assertThat(((AccountException) first).reason()).isEqualTo(AccountException.Reason.CONFLICT);
        assertThat(((AccountException) first).getMessage()).contains("a user named 'RACER' already exists");
        assertThat(a.users()).extracting(Accounts.User::username).containsExactly("RACER", "admin");
        assertThat(a.login("RACER", "second-password".toCharArray(), "test")).isPresent();
    }

    @Test
    void aRoleChangeOvertakenByAPasswordChangeKeepsBoth() throws Exception {
        Accounts a = open();
        a.createUser("both", "old-password".toCharArray(), Role.USER);

        Object first = overtake(() -> a.updateUser("both", Optional.empty(), Optional.of(Role.SUPPORT)),
                () -> a.updateUser("both", Optional.of("new-password".toCharArray()), Optional.empty()));

        assertThat(first).isInstanceOf(Accounts.User.class);
        assertThat(a.user("both").orElseThrow().role()).isEqualTo(Role.SUPPORT);
        assertThat(a.login("both", "new-password".toCharArray(), "test")).as("the password change is not lost").isPresent();
        assertThat(a.login("both", "old-password".toCharArray(), "test")).isEmpty();
    }

    @Test
    void removingTheLastTwoAdministratorsAtOnceLeavesOne() throws Exception {
        Accounts a = open();
        a.createUser("root", "root-password".toCharArray(), Role.ADMINISTRATOR);

        Object first = overtake(() -> a.deleteUser("admin"),
                () -> a.updateUser("root", Optional.empty(), Optional.of(Role.USER)));

        assertThat(first).isInstanceOf(AccountException.class);
        assertThat(((AccountException) first).getMessage()).contains("'admin' is the last administrator");
        assertThat(a.users()).filteredOn(u -> u.role() == Role.ADMINISTRATOR).extracting(Accounts.User::username)
                .containsExactly("admin");
    }

    @Test
    void aLoginOvertakenByTheDeletionOfItsUserIssuesNoToken() throws Exception {
        Accounts a = open();
        a.createUser("leaving", "leaving-password".toCharArray(), Role.USER);

        Object first = overtake(() -> a.login("leaving", "leaving-password".toCharArray(), "test"),
                () -> a.deleteUser("leaving"));

        assertThat(first).isEqualTo(Optional.empty());
        assertThat(state.list("tokens")).as("no token of a deleted user is left to be inherited by a new 'leaving'").isEmpty();
    }

    private ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger().addAppender(appender);
        appenders.add(appender);
        return appender;
    }

    private static ch.qos.logback.classic.Logger logger() {
        return (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Accounts.class);
    }
}
