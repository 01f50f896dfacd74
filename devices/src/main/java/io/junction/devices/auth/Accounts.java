package io.junction.devices.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.PasswordHash;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.state.StateChange;
import io.junction.core.state.StateRecord;
import io.junction.core.state.StateStore;
import io.junction.core.state.StateWrite;
import io.junction.core.state.VersionConflictException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The people who use the API (a username, a role, a password hash) and their tokens, kept in the state port: the
 * collection {@code users} keyed by the lower-cased username, {@code tokens} keyed by the SHA-256 (hex) of the token.
 * It is the API's {@link Authenticator}: a token is looked up by its SHA-256 in memory, so checking one costs a hash
 * and a map lookup, never a password hash or a read of the store. Only password hashes and token hashes are stored.
 *
 * <p>Why no monitor and no actor: the state store is the one place where changes are ordered. Every change reads
 * what it builds on from the in-memory view and writes with compare-and-set on the versions it read, so of two
 * requests that race (creating the same user in any letter case, changing one user's password and role at once,
 * issuing a token while its user is deleted, removing the last two administrators at once) only one wins; the other
 * gets a {@link VersionConflictException} and is worked out again on what won, or is told of the conflict. A change
 * that depends on records it does not change (a token on its user, removing an administrator on the others) writes
 * them back unchanged in the same atomic batch: that bumps their versions, so the batch fails if one of them changed
 * meanwhile. The in-memory view (immutable records in concurrent maps) is written only by the store's change
 * listener, which adapters call in commit order before the write returns ({@code StateStoreContract}), so it is the
 * store's state, a change is visible once the call that made it returns, and readers (every HTTP request) never
 * wait. An actor would have ordered this process's changes only; compare-and-set also holds when several nodes share
 * the store.
 *
 * <p>On the first start (no users in the store) the {@code users.json} and {@code tokens.json} an older Junction
 * wrote in its auth folder are imported in one atomic batch and renamed {@code *.imported}; without them, the user
 * {@code admin} is created.
 */
public final class Accounts implements Authenticator, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Accounts.class);

    /** The administrator created on first start. */
    public static final String ADMIN = "admin";
    public static final int MIN_PASSWORD_CHARS = 8;
    static final int MAX_PASSWORD_CHARS = 1024;
    /** Login tokens one user may hold; the oldest is revoked when a login would pass it. */
    static final int MAX_LOGINS_PER_USER = 100;
    /** API tokens one user may hold; creating one more is refused. */
    static final int MAX_API_TOKENS_PER_USER = 100;
    /** The state collections. */
    static final String USERS = "users";
    static final String TOKENS = "tokens";
    /** The files of the auth folder an older Junction kept users and tokens in; imported once. */
    static final String USERS_FILE = "users.json";
    static final String TOKENS_FILE = "tokens.json";
    static final String IMPORTED = ".imported";

    private static final Pattern USERNAME = Pattern.compile("[A-Za-z0-9_.@-]{1,64}");
    private static final String USERNAME_RULE = "1 to 64 letters, digits, '_', '.', '@' or '-'";
    private static final Pattern TOKEN_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_TOKEN_NAME_CHARS = 100;
    private static final int TOKEN_BYTES = 32;
    /** Longer bearer strings cannot be ours; they are refused before hashing. */
    private static final int MAX_TOKEN_CHARS = 256;
    private static final int FORMAT_VERSION = 1;
    /** How often a change is worked out again when other changes keep winning the race. */
    private static final int MAX_ATTEMPTS = 32;
    /** What to do about a record that is not what this class writes: the hint in the error, by where it came from. */
    private static final String OLD_FILE = "fix or move away the file; without users.json the user 'admin' is created";
    private static final String STORED = "fix or delete the record in the state store";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();

    /** What a token is for. */
    public enum Kind {
        /** From {@code POST /api/auth/login}; expires after {@code [auth] token_ttl_hours}. */
        LOGIN,
        /** Named, for scripts and automation; valid until revoked. */
        API;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Optional<Kind> parse(String text) {
            for (Kind k : values()) {
                if (k.id().equals(text)) {
                    return Optional.of(k);
                }
            }
            return Optional.empty();
        }
    }

    /** A user as the API shows it (never with the password hash). */
    public record User(String username, Role role, Instant created) {
    }

    /** A token as the API shows it (never with the token itself). */
    public record TokenInfo(String id, String user, Kind kind, String name, Instant created, Optional<Instant> expires) {
    }

    /** A token just made: {@code token} is the secret, shown once and kept nowhere. */
    public record Issued(String token, TokenInfo info) {
    }

    /** A user as stored, at the version of the store's record ({@code 0} before it is written). */
    private record StoredUser(User user, String passwordHash, long version) {

        String key() {
            return Accounts.key(user.username());
        }

        String json() {
            return Json.object()
                    .put("username", user.username())
                    .put("role", user.role().id())
                    .put("password", passwordHash)
                    .put("created", user.created().toString())
                    .toString();
        }
    }

    private record StoredToken(TokenInfo info, String sha256) {

        String json() {
            ObjectNode o = Json.object()
                    .put("id", info.id())
                    .put("user", info.user())
                    .put("kind", info.kind().id())
                    .put("name", info.name())
                    .put("created", info.created().toString());
            if (info.expires().isPresent()) {
                o.put("expires", info.expires().get().toString());
            } else {
                o.putNull("expires");
            }
            return o.toString();
        }
    }

    private final StateStore state;
    private final Clock clock;
    private final Duration loginTtl;
    /** By lower-cased username (the store's key). Written only by the store's change listener. */
    private final Map<String, StoredUser> users = new ConcurrentHashMap<>();
    /** By the SHA-256 (hex) of the token. Written only by the store's change listener. */
    private final Map<String, StoredToken> tokens = new ConcurrentHashMap<>();
    private final List<StateStore.Watch> watches = new CopyOnWriteArrayList<>();
    /** A hash checked against when the user is unknown, so a failed login takes as long either way. */
    private volatile String decoy;
    private volatile boolean closed;

    private Accounts(StateStore state, Duration loginTtl, Clock clock) {
        this.state = state;
        this.loginTtl = loginTtl;
        this.clock = clock;
    }

    /**
     * Opens the users and tokens kept in {@code state}. On first start, when the store has no users, imports the
     * {@code users.json} and {@code tokens.json} an older Junction kept in {@code oldDir} (and renames them
     * {@code *.imported}); without them, creates the user {@code admin} (administrator) with
     * {@link AuthSettings#adminPassword()}, or with a generated password printed once on standard output.
     *
     * @throws IllegalStateException when an old file or a stored record is not what this class writes (it names
     *                               which and what is wrong), or the store cannot be read or written
     * @throws UncheckedIOException  when an old file cannot be read
     */
    public static Accounts open(StateStore state, Path oldDir, AuthSettings settings, Clock clock) {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(oldDir, "oldDir");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(clock, "clock");
        Accounts accounts = new Accounts(state, Duration.ofHours(settings.tokenTtlHours()), clock);
        try {
            accounts.load(oldDir, settings.adminPassword());
        } catch (RuntimeException e) {
            accounts.close();
            throw e;
        }
        return accounts;
    }

    // ---- the authenticator: on every request, so no password hashing and no store

    @Override
    public Optional<Principal> authenticate(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return Optional.empty();
        }
        StoredToken t = tokens.get(sha256(token));
        if (t == null || expired(t.info(), clock.instant())) {
            return Optional.empty();
        }
        StoredUser u = userNamed(t.info().user());
        return u == null ? Optional.empty() : Optional.of(new Principal(u.user().username(), u.user().role()));
    }

    /** What {@code token} is (for {@code GET /api/auth/me}); empty when it is unknown, expired or revoked. */
    public Optional<TokenInfo> tokenInfo(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return Optional.empty();
        }
        StoredToken t = tokens.get(sha256(token));
        return t == null || expired(t.info(), clock.instant()) ? Optional.empty() : Optional.of(t.info());
    }

    // ---- logins and tokens

    /**
     * Checks a username and password and, when they match, issues a login token that expires after
     * {@code [auth] token_ttl_hours}. A failure is logged with {@code from} (where the attempt came from, or
     * {@code "unknown"}) and answers empty whether the user exists or not.
     */
    public Optional<Issued> login(String username, char[] password, String from) {
        Objects.requireNonNull(password, "password");
        StoredUser u = userNamed(username);
        boolean ok;
        if (u == null) {
            PasswordHash.verify(password, decoy());
            ok = false;
        } else {
            ok = PasswordHash.verify(password, u.passwordHash());
        }
        if (!ok) {
            log.warn("login failed user={} from={} reason={}", printable(username), printable(from),
                    u == null ? "no such user" : "wrong password");
            return Optional.empty();
        }
        Optional<Issued> issued = attempt(() -> {
            StoredUser owner = userNamed(username);
            if (owner == null) {
                return Optional.empty();
            }
            Instant now = clock.instant();
            List<StoredToken> dropped = expiredTokensOf(username, now);
            List<StoredToken> logins = tokensOf(username, Kind.LOGIN, now);
            for (int i = 0; i <= logins.size() - MAX_LOGINS_PER_USER; i++) {
                dropped.add(logins.get(i));
            }
            return Optional.of(issue(owner, Kind.LOGIN, "login", Optional.of(now.plus(loginTtl)), dropped));
        });
        if (issued.isEmpty()) {
            log.warn("login failed user={} from={} reason=the user was deleted meanwhile", username, printable(from));
            return Optional.empty();
        }
        log.info("login user={} from={} token={}", username, printable(from), issued.get().info().id());
        return issued;
    }

    /** Revokes {@code token} (a logout); false when it was not known. */
    public boolean logout(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return false;
        }
        checkOpen();
        StoredToken t = tokens.get(sha256(token));
        if (t == null || !state.delete(TOKENS, t.sha256(), StateStore.ANY)) {
            return false;
        }
        log.info("logout user={} token={}", t.info().user(), t.info().id());
        return true;
    }

    /**
     * Issues an API token named {@code name} for {@code user}: it acts with the user's role and does not expire until
     * revoked. The answer carries the token itself, which is kept nowhere: it cannot be shown again.
     */
    public Issued createApiToken(String user, String name) {
        String n = tokenName(name);
        Issued issued = attempt(() -> {
            StoredUser owner = userNamed(user);
            if (owner == null) {
                throw new AccountException(AccountException.Reason.NOT_FOUND, "there is no user '" + printable(user) + "'");
            }
            Instant now = clock.instant();
            List<StoredToken> mine = tokensOf(user, Kind.API, now);
            for (StoredToken t : mine) {
                if (t.info().name().equals(n)) {
                    throw new AccountException(AccountException.Reason.CONFLICT, "user '" + user + "' already has an API token named '"
                            + n + "' (id " + t.info().id() + "); revoke it with DELETE /api/auth/tokens/" + t.info().id() + " or choose another name");
                }
            }
            if (mine.size() >= MAX_API_TOKENS_PER_USER) {
                throw new AccountException(AccountException.Reason.CONFLICT, "user '" + user + "' already has "
                        + MAX_API_TOKENS_PER_USER + " API tokens, the most one user may have; revoke some first");
            }
            return issue(owner, Kind.API, n, Optional.empty(), expiredTokensOf(user, now));
        });
        log.info("api token created user={} name={} token={}", user, printable(n), issued.info().id());
        return issued;
    }

    /** The tokens of {@code user} that are still valid (login and API), oldest first. */
    public List<TokenInfo> tokens(String user) {
        Instant now = clock.instant();
        List<TokenInfo> list = new ArrayList<>();
        for (StoredToken t : tokens.values()) {
            if (t.info().user().equals(user) && !expired(t.info(), now)) {
                list.add(t.info());
            }
        }
        list.sort(Comparator.comparing(TokenInfo::created).thenComparing(TokenInfo::id));
        return list;
    }

    /**
     * Revokes the token with this id. {@code by} may revoke its own tokens, an administrator anyone's; a token that
     * does not exist or is someone else's is {@link AccountException.Reason#NOT_FOUND} either way.
     */
    public TokenInfo revoke(String id, Principal by) {
        checkOpen();
        Instant now = clock.instant();
        StoredToken found = null;
        for (StoredToken t : tokens.values()) {
            if (t.info().id().equals(id) && !expired(t.info(), now)
                    && (t.info().user().equals(by.user()) || by.may(Role.ADMINISTRATOR))) {
                found = t;
            }
        }
        if (found == null || !state.delete(TOKENS, found.sha256(), StateStore.ANY)) {
            throw new AccountException(AccountException.Reason.NOT_FOUND, "you have no token with id '" + printable(id)
                    + "'; GET /api/auth/tokens lists yours");
        }
        log.info("token revoked user={} token={} by={}", found.info().user(), found.info().id(), by.user());
        return found.info();
    }

    // ---- users

    /** Every user, by username. */
    public List<User> users() {
        return users.values().stream().map(StoredUser::user).sorted(Comparator.comparing(User::username)).toList();
    }

    public Optional<User> user(String username) {
        StoredUser u = userNamed(username);
        return u == null ? Optional.empty() : Optional.of(u.user());
    }

    /** Adds a user; the username must be new (in any letter case) and the password at least 8 characters. */
    public User createUser(String username, char[] password, Role role) {
        validateUsername(username);
        Objects.requireNonNull(role, "role");
        String hash = hashPassword(password);
        checkOpen();
        StoredUser existing = users.get(key(username));
        if (existing != null) {
            throw taken(existing.user().username());
        }
        StoredUser u = new StoredUser(new User(username, role, clock.instant()), hash, 0);
        try {
            // the key is the lower-cased name, so creating "Bob" and "bob" at once conflicts here
            state.put(USERS, u.key(), u.json(), StateStore.ABSENT);
        } catch (VersionConflictException e) {
            StoredUser winner = users.get(key(username));
            throw taken(winner == null ? username : winner.user().username());
        }
        log.info("user created user={} role={}", username, role.id());
        return u.user();
    }

    /**
     * Changes a user's password and/or role. The last administrator cannot be given a lesser role. The user's tokens
     * stay valid and act with the new role.
     */
    public User updateUser(String username, Optional<char[]> password, Optional<Role> role) {
        Optional<String> hash = password.map(Accounts::hashPassword);
        User changed = attempt(() -> {
            StoredUser old = userNamed(username);
            if (old == null) {
                throw noSuchUser(username);
            }
            Role newRole = role.orElse(old.user().role());
            StoredUser u = new StoredUser(new User(username, newRole, old.user().created()), hash.orElse(old.passwordHash()), old.version());
            List<StateWrite> batch = new ArrayList<>();
            batch.add(new StateWrite.Put(USERS, u.key(), u.json(), old.version()));
            if (old.user().role() == Role.ADMINISTRATOR && newRole != Role.ADMINISTRATOR) {
                batch.addAll(otherAdministrators(old, "'" + username + "' is the last administrator: make another user an "
                        + "administrator before giving '" + username + "' the role " + newRole.id()));
            }
            state.write(batch);
            return u.user();
        });
        log.info("user changed user={} role={} password={}", username, changed.role().id(), hash.isPresent() ? "changed" : "kept");
        return changed;
    }

    /** Lets a user change their own password, given the current one; false when the current one is wrong. */
    public boolean changeOwnPassword(String username, char[] current, char[] password) {
        StoredUser u = userNamed(username);
        if (u == null) {
            throw noSuchUser(username);
        }
        if (!PasswordHash.verify(current, u.passwordHash())) {
            log.warn("password change refused user={} reason=wrong current password", username);
            return false;
        }
        updateUser(username, Optional.of(password), Optional.empty());
        return true;
    }

    /** Deletes a user and revokes all their tokens (in one atomic write); the last administrator cannot be deleted. */
    public User deleteUser(String username) {
        return attempt(() -> {
            StoredUser old = userNamed(username);
            if (old == null) {
                throw noSuchUser(username);
            }
            List<StateWrite> batch = new ArrayList<>();
            batch.add(new StateWrite.Delete(USERS, old.key(), old.version()));
            if (old.user().role() == Role.ADMINISTRATOR) {
                batch.addAll(otherAdministrators(old, "'" + username
                        + "' is the last administrator and cannot be deleted: make another user an administrator first"));
            }
            int revoked = 0;
            for (StoredToken t : tokens.values()) {
                if (t.info().user().equals(username)) {
                    batch.add(new StateWrite.Delete(TOKENS, t.sha256(), StateStore.ANY));
                    revoked++;
                }
            }
            state.write(batch);
            log.info("user deleted user={} tokens revoked={}", username, revoked);
            return old.user();
        });
    }

    /** Refuses further changes; every change was already durable when it was made. */
    @Override
    public void close() {
        closed = true;
        watches.forEach(StateStore.Watch::close);
        watches.clear();
    }

    // ---- changes: compare-and-set on what the in-memory view shows

    /**
     * Runs {@code change}, which reads the in-memory view and writes with the versions it read. When another change
     * won the race ({@link VersionConflictException}), the view already shows the winner (the listener ran before
     * that write returned), so the change is worked out again on it.
     */
    private <T> T attempt(Supplier<T> change) {
        for (int i = 1; ; i++) {
            checkOpen();
            try {
                return change.get();
            } catch (VersionConflictException e) {
                if (i == MAX_ATTEMPTS) {
                    throw new AccountException(AccountException.Reason.CONFLICT, "the change was not made: other changes to "
                            + e.collection() + " kept coming first; try again");
                }
                log.debug("accounts: {}; working the change out again", e.getMessage());
            }
        }
    }

    /** A write that leaves {@code u} as it is but fails the batch when {@code u} changed since it was read. */
    private static StateWrite unchanged(StoredUser u) {
        return new StateWrite.Put(USERS, u.key(), u.json(), u.version());
    }

    /**
     * The other administrators, as writes that keep them as they are: a batch that removes {@code leaving} from the
     * administrators then fails if one of them was deleted or demoted meanwhile. Throws CONFLICT with {@code last}
     * when there is no other.
     */
    private List<StateWrite> otherAdministrators(StoredUser leaving, String last) {
        List<StateWrite> guards = new ArrayList<>();
        for (StoredUser u : users.values()) {
            if (u.user().role() == Role.ADMINISTRATOR && !u.key().equals(leaving.key())) {
                guards.add(unchanged(u));
            }
        }
        if (guards.isEmpty()) {
            throw new AccountException(AccountException.Reason.CONFLICT, last);
        }
        return guards;
    }

    /**
     * Writes a new token for {@code owner}, dropping {@code dropped}, in one batch that also holds the owner's record
     * as it was read: a token is never issued to a user deleted meanwhile (whose name could be taken again), and one
     * user's tokens are issued one at a time (the per-user limits and unique names hold).
     */
    private Issued issue(StoredUser owner, Kind kind, String name, Optional<Instant> expires, List<StoredToken> dropped) {
        String token = randomText(TOKEN_BYTES);
        String id;
        do {
            id = randomText(9);
        } while (idTaken(id));
        StoredToken t = new StoredToken(new TokenInfo(id, owner.user().username(), kind, name, clock.instant(), expires), sha256(token));
        List<StateWrite> batch = new ArrayList<>();
        batch.add(unchanged(owner));
        for (StoredToken d : dropped) {
            batch.add(new StateWrite.Delete(TOKENS, d.sha256(), StateStore.ANY));
        }
        batch.add(new StateWrite.Put(TOKENS, t.sha256(), t.json(), StateStore.ABSENT));
        state.write(batch);
        return new Issued(token, t.info());
    }

    private boolean idTaken(String id) {
        for (StoredToken t : tokens.values()) {
            if (t.info().id().equals(id)) {
                return true;
            }
        }
        return false;
    }

    private List<StoredToken> tokensOf(String user, Kind kind, Instant now) {
        List<StoredToken> list = new ArrayList<>();
        for (StoredToken t : tokens.values()) {
            if (t.info().user().equals(user) && t.info().kind() == kind && !expired(t.info(), now)) {
                list.add(t);
            }
        }
        list.sort(Comparator.comparing((StoredToken t) -> t.info().created()).thenComparing(t -> t.info().id()));
        return list;
    }

    /** The expired tokens of {@code user}: dropped whenever the user is issued a new one, so they do not pile up. */
    private List<StoredToken> expiredTokensOf(String user, Instant now) {
        List<StoredToken> list = new ArrayList<>();
        for (StoredToken t : tokens.values()) {
            if (t.info().user().equals(user) && expired(t.info(), now)) {
                list.add(t);
            }
        }
        return list;
    }

    /** The user named exactly {@code username} (names are unique in any letter case, but match exactly). */
    private StoredUser userNamed(String username) {
        if (username == null) {
            return null;
        }
        StoredUser u = users.get(key(username));
        return u != null && u.user().username().equals(username) ? u : null;
    }

    private static String key(String username) {
        return username.toLowerCase(Locale.ROOT);
    }

    private long administrators() {
        return users.values().stream().filter(u -> u.user().role() == Role.ADMINISTRATOR).count();
    }

    private static AccountException taken(String existing) {
        return new AccountException(AccountException.Reason.CONFLICT, "a user named '" + existing
                + "' already exists; choose another username or change that user with PUT /api/users/" + existing);
    }

    // ---- the in-memory view: fed by the store's change events only

    private void userChanged(StateChange c) {
        if (c.record().isEmpty()) {
            users.remove(c.key());
            return;
        }
        StateRecord r = c.record().get();
        StoredUser u = readUser(parse(r), r.version(), "state record " + USERS + "/" + r.key(), STORED);
        if (!u.key().equals(r.key())) {
            throw corrupt("state record " + USERS + "/" + r.key() + " holds the user '" + printable(u.user().username())
                    + "'; the key must be the lower-cased username", STORED);
        }
        users.put(r.key(), u);
    }

    private void tokenChanged(StateChange c) {
        if (c.record().isEmpty()) {
            tokens.remove(c.key());
            return;
        }
        StateRecord r = c.record().get();
        String where = "state record " + TOKENS + "/" + r.key();
        if (!SHA256_HEX.matcher(r.key()).matches()) {
            throw corrupt(where + " has a key that is not 64 lower-case hex digits", STORED);
        }
        tokens.put(r.key(), new StoredToken(readToken(parse(r), where, STORED), r.key()));
    }

    private static JsonNode parse(StateRecord r) {
        try {
            return Json.parse(r.json());
        } catch (IOException e) {
            throw corrupt("state record " + r.collection() + "/" + r.key() + " is not valid JSON: " + e.getMessage(), STORED);
        }
    }

    // ---- opening, the first start and the import of the old files

    private void load(Path oldDir, Optional<String> adminPassword) {
        // watch first, then read, so that no change between the two is missed
        watches.add(state.watch(USERS, this::userChanged));
        watches.add(state.watch(TOKENS, this::tokenChanged));
        for (StateRecord r : state.list(USERS)) {
            userChanged(new StateChange(USERS, r.key(), Optional.of(r)));
        }
        for (StateRecord r : state.list(TOKENS)) {
            tokenChanged(new StateChange(TOKENS, r.key(), Optional.of(r)));
        }
        if (users.isEmpty()) {
            if (Files.exists(oldDir.resolve(USERS_FILE))) {
                importOldFiles(oldDir);
            } else {
                createAdmin(adminPassword);
            }
        }
        pruneTokens();
        if (administrators() == 0) {
            log.warn("the state store has no administrator: nobody can manage users; add one to the '{}' collection", USERS);
        }
        log.info("accounts open users={} tokens={}", users.size(), tokens.size());
    }

    /** Drops the tokens that expired or whose user no longer exists. */
    private void pruneTokens() {
        Instant now = clock.instant();
        List<StateWrite> drop = new ArrayList<>();
        for (StoredToken t : tokens.values()) {
            if (expired(t.info(), now) || userNamed(t.info().user()) == null) {
                drop.add(new StateWrite.Delete(TOKENS, t.sha256(), StateStore.ANY));
            }
        }
        if (!drop.isEmpty()) {
            state.write(drop);
            log.info("accounts: dropped {} expired or orphaned tokens", drop.size());
        }
    }

    private void createAdmin(Optional<String> configured) {
        String password = configured.orElseGet(Accounts::generatePassword);
        StoredUser admin = new StoredUser(new User(ADMIN, Role.ADMINISTRATOR, clock.instant()), hashPassword(password.toCharArray()), 0);
        try {
            state.put(USERS, admin.key(), admin.json(), StateStore.ABSENT);
        } catch (VersionConflictException e) {
            log.info("the user '{}' was created by another node meanwhile", ADMIN);
            return;
        }
        if (configured.isPresent()) {
            log.info("created the user '{}' (administrator) with the configured password (JUNCTION_ADMIN_PASSWORD or [auth] admin_password)", ADMIN);
            return;
        }
        System.out.println();
        System.out.println("Junction created the user '" + ADMIN + "' (administrator) with this generated password:");
        System.out.println();
        System.out.println("    " + password);
        System.out.println();
        System.out.println("It will not be shown again. Log in with POST /api/auth/login and change it with PUT /api/users/"
                + ADMIN + ", or set JUNCTION_ADMIN_PASSWORD (or [auth] admin_password) before the first start to choose it.");
        System.out.println();
        System.out.flush();
        log.warn("created the user '{}' (administrator) with a generated password, printed once on standard output: "
                + "it will not be shown again; set JUNCTION_ADMIN_PASSWORD or [auth] admin_password before the first start to choose it", ADMIN);
    }

    /**
     * Imports the {@code users.json} and {@code tokens.json} an older Junction wrote (version 1: an array of users
     * with their password hashes, and of tokens by their SHA-256), all in one atomic write, then renames the files
     * {@code *.imported}. Expired tokens and tokens of unknown users are left out. A file that is not what the old
     * Junction wrote stops the start, naming the file and what is wrong.
     */
    private void importOldFiles(Path dir) {
        Path usersFile = dir.resolve(USERS_FILE);
        Path tokensFile = dir.resolve(TOKENS_FILE);
        Map<String, StoredUser> imported = new LinkedHashMap<>();
        int i = 0;
        for (JsonNode n : readArray(usersFile, "users")) {
            i++;
            String where = usersFile + ": user #" + i;
            StoredUser u = readUser(n, 0, where, OLD_FILE);
            StoredUser before = imported.putIfAbsent(u.key(), u);
            if (before != null) {
                throw corrupt(where + " repeats the username '" + before.user().username() + "' (usernames are unique in any letter case)", OLD_FILE);
            }
        }
        List<StateWrite> batch = new ArrayList<>();
        for (StoredUser u : imported.values()) {
            batch.add(new StateWrite.Put(USERS, u.key(), u.json(), StateStore.ABSENT));
        }
        int tokenCount = 0;
        int left = 0;
        if (Files.exists(tokensFile)) {
            Instant now = clock.instant();
            Map<String, StoredToken> seen = new LinkedHashMap<>();
            i = 0;
            for (JsonNode n : readArray(tokensFile, "tokens")) {
                i++;
                String where = tokensFile + ": token #" + i;
                TokenInfo info = readToken(n, where, OLD_FILE);
                String sha = text(n, "sha256", where, OLD_FILE);
                if (!SHA256_HEX.matcher(sha).matches()) {
                    throw corrupt(where + " has a sha256 that is not 64 lower-case hex digits", OLD_FILE);
                }
                StoredUser owner = imported.get(key(info.user()));
                if (owner == null || !owner.user().username().equals(info.user()) || expired(info, now)) {
                    left++;
                    continue;
                }
                seen.put(sha, new StoredToken(info, sha));
            }
            for (StoredToken t : seen.values()) {
                batch.add(new StateWrite.Put(TOKENS, t.sha256(), t.json(), StateStore.ABSENT));
            }
            tokenCount = seen.size();
        }
        try {
            state.write(batch);
        } catch (VersionConflictException e) {
            log.info("accounts: another node imported or created the users first ({}); the old files are left as they are", e.getMessage());
            return;
        }
        log.info("accounts: imported {} users and {} tokens ({} expired or orphaned left out) from {} into the state store",
                imported.size(), tokenCount, left, dir);
        for (Path f : List.of(usersFile, tokensFile)) {
            if (Files.exists(f)) {
                Path to = f.resolveSibling(f.getFileName() + IMPORTED);
                try {
                    Files.move(f, to, StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    // harmless: the old files are read only while the store has no users
                    log.warn("accounts: imported {} but could not rename it to {}: {}", f, to.getFileName(), e.toString());
                }
            }
        }
    }

    private static StoredUser readUser(JsonNode n, long version, String where, String hint) {
        String username = text(n, "username", where, hint);
        if (!USERNAME.matcher(username).matches()) {
            throw corrupt(where + " has the username '" + printable(username) + "'; expected " + USERNAME_RULE, hint);
        }
        String roleText = text(n, "role", where, hint);
        Role role = Role.parse(roleText).orElseThrow(() -> corrupt(where + " ('" + username + "') has the role '"
                + printable(roleText) + "'; expected user, support or administrator", hint));
        String hash = text(n, "password", where, hint);
        if (!PasswordHash.looksHashed(hash)) {
            throw corrupt(where + " ('" + username + "') has a password that is not a hash; expected "
                    + PasswordHash.PREFIX + "<iterations>$<salt>$<hash>", hint);
        }
        Instant created = instant(n, "created", where, hint);
        return new StoredUser(new User(username, role, created), hash, version);
    }

    private static TokenInfo readToken(JsonNode n, String where, String hint) {
        String id = text(n, "id", where, hint);
        if (!TOKEN_ID.matcher(id).matches()) {
            throw corrupt(where + " has the id '" + printable(id) + "'; expected letters, digits, '_' or '-'", hint);
        }
        String user = text(n, "user", where, hint);
        String kindText = text(n, "kind", where, hint);
        Kind kind = Kind.parse(kindText).orElseThrow(() -> corrupt(where + " has the kind '" + printable(kindText)
                + "'; expected login or api", hint));
        String name = text(n, "name", where, hint);
        Instant created = instant(n, "created", where, hint);
        Optional<Instant> expires = n.path("expires").isNull() || n.path("expires").isMissingNode()
                ? Optional.empty() : Optional.of(instant(n, "expires", where, hint));
        return new TokenInfo(id, user, kind, name, created, expires);
    }

    private static JsonNode readArray(Path file, String field) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw corrupt(file + " is not valid JSON: " + e.getOriginalMessage(), OLD_FILE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path(field).isArray()) {
            throw corrupt(file + " has no \"" + field + "\" array; expected {\"version\": 1, \"" + field + "\": [...]}", OLD_FILE);
        }
        int version = root.path("version").asInt(FORMAT_VERSION);
        if (version != FORMAT_VERSION) {
            throw corrupt(file + " has version " + version + "; this Junction reads version " + FORMAT_VERSION, OLD_FILE);
        }
        return root.get(field);
    }

    private static String text(JsonNode n, String field, String where, String hint) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw corrupt(where + " has no text \"" + field + "\"", hint);
        }
        return v.asText();
    }

    private static Instant instant(JsonNode n, String field, String where, String hint) {
        String v = text(n, field, where, hint);
        try {
            return Instant.parse(v);
        } catch (DateTimeParseException e) {
            throw corrupt(where + " has \"" + field + "\": \"" + printable(v) + "\", which is not an ISO-8601 instant", hint);
        }
    }

    private static IllegalStateException corrupt(String what, String hint) {
        return new IllegalStateException(what + " (" + hint + ")");
    }

    // ---- helpers

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the accounts are closed: the server is stopping");
        }
    }

    private static boolean expired(TokenInfo t, Instant now) {
        return t.expires().isPresent() && !now.isBefore(t.expires().get());
    }

    private String decoy() {
        String d = decoy;
        if (d == null) {
            d = PasswordHash.hash(randomText(16).toCharArray());
            decoy = d;
        }
        return d;
    }

    private static AccountException noSuchUser(String username) {
        return new AccountException(AccountException.Reason.NOT_FOUND, "there is no user '" + printable(username)
                + "'; GET /api/users lists them");
    }

    static void validateUsername(String username) {
        if (username == null || !USERNAME.matcher(username).matches()) {
            throw new AccountException(AccountException.Reason.INVALID, "the username "
                    + (username == null ? "is missing" : "'" + printable(username) + "' is not valid") + "; expected " + USERNAME_RULE);
        }
    }

    private static String hashPassword(char[] password) {
        if (password == null || password.length < MIN_PASSWORD_CHARS) {
            throw new AccountException(AccountException.Reason.INVALID, "the password needs at least " + MIN_PASSWORD_CHARS
                    + " characters" + (password == null ? "" : ", it has " + password.length));
        }
        if (password.length > MAX_PASSWORD_CHARS) {
            throw new AccountException(AccountException.Reason.INVALID, "the password may have at most " + MAX_PASSWORD_CHARS
                    + " characters, it has " + password.length);
        }
        return PasswordHash.hash(password);
    }

    private static String tokenName(String name) {
        if (name == null || name.isBlank()) {
            throw new AccountException(AccountException.Reason.INVALID, "an API token needs a name saying what uses it, "
                    + "such as \"backup script\"");
        }
        String n = name.strip();
        if (n.length() > MAX_TOKEN_NAME_CHARS) {
            throw new AccountException(AccountException.Reason.INVALID, "a token name may have at most " + MAX_TOKEN_NAME_CHARS
                    + " characters, it has " + n.length());
        }
        if (n.chars().anyMatch(Character::isISOControl)) {
            throw new AccountException(AccountException.Reason.INVALID, "a token name may not contain control characters");
        }
        return n;
    }

    static String generatePassword() {
        return randomText(18);
    }

    private static String randomText(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        String s = B64URL.encodeToString(b);
        Arrays.fill(b, (byte) 0);
        return s;
    }

    static String sha256(String token) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available in this JDK", e);
        }
    }

    /** Text from outside, safe to put in a log line or message: at most 64 characters, no control characters. */
    static String printable(String s) {
        if (s == null) {
            return "(none)";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), 64));
        for (int i = 0; i < s.length() && b.length() < 64; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return s.length() > 64 ? b + "..." : b.toString();
    }
}
