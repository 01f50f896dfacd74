package io.junction.devices.auth;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.junction.core.auth.PasswordHash;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AccountsTest {

    private static final String ADMIN_PASSWORD = "first-admin-pass";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2025-06-01T10:00:00Z"));
    private final List<Accounts> opened = new ArrayList<>();

    private final List<ListAppender<ILoggingEvent>> appenders = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(Accounts::close);
        appenders.forEach(a -> logger().detachAppender(a));
    }

    private Accounts open(Optional<String> adminPassword, long ttlHours) {
        Accounts a = Accounts.open(dir, new AuthSettings(adminPassword, ttlHours), clock);
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
        String users = Files.readString(dir.resolve("users.json"));
        assertThat(users).contains(PasswordHash.PREFIX).doesNotContain(ADMIN_PASSWORD);
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
    void theTokensFileHoldsOnlyHashesOfTheTokens() throws Exception {
        Accounts a = open();
        String loginToken = login(a, "admin", ADMIN_PASSWORD);
        String apiToken = a.createApiToken("admin", "ci").token();

        assertThat(loginToken).matches("[A-Za-z0-9_-]{43}");
        assertThat(apiToken).matches("[A-Za-z0-9_-]{43}").isNotEqualTo(loginToken);
        String file = Files.readString(dir.resolve("tokens.json"));
        assertThat(file).doesNotContain(loginToken).doesNotContain(apiToken)
                .contains(Accounts.sha256(loginToken)).contains(Accounts.sha256(apiToken));
        assertThat(dir.resolve("tokens.json.tmp")).doesNotExist();
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
    void expiredLoginTokensAreDroppedFromTheFileOnReopen() throws Exception {
        Accounts a = open(Optional.of(ADMIN_PASSWORD), 1);
        String token = login(a, "admin", ADMIN_PASSWORD);
        a.close();
        assertThat(Files.readString(dir.resolve("tokens.json"))).contains(Accounts.sha256(token));

        clock.advance(Duration.ofHours(1));
        open(Optional.of(ADMIN_PASSWORD), 1);
        assertThat(Files.readString(dir.resolve("tokens.json"))).doesNotContain(Accounts.sha256(token));
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
        assertThat(dir.resolve("tokens.json")).as("no token was issued").doesNotExist();
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
    void deletingAUserRevokesTheirTokensAndForgetsThemAfterAReopen() throws Exception {
        Accounts a = open();
        a.createUser("bob", "bob-password".toCharArray(), Role.USER);
        String login = login(a, "bob", "bob-password");
        String api = a.createApiToken("bob", "cron").token();

        a.deleteUser("bob");

        assertThat(a.authenticate(login)).isEmpty();
        assertThat(a.authenticate(api)).isEmpty();
        assertThat(a.tokens("bob")).isEmpty();
        assertThat(Files.readString(dir.resolve("tokens.json"))).doesNotContain("bob");
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
    void aDamagedUsersFileStopsTheStartWithTheFileAndWhatIsWrong() throws Exception {
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
