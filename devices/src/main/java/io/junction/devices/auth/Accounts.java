package io.junction.devices.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.PasswordHash;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The people who use the API (a username, a role, a password hash) and their tokens, kept in {@code users.json} and
 * {@code tokens.json} of one folder. It is the API's {@link Authenticator}: a token is looked up by its SHA-256, so
 * checking one costs a hash and a map lookup, never a password hash. The files hold only password hashes and token
 * hashes; every change is written to a temporary file, flushed to disk and renamed over the old one before it is
 * acknowledged.
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
    static final String USERS_FILE = "users.json";
    static final String TOKENS_FILE = "tokens.json";

    private static final Pattern USERNAME = Pattern.compile("[A-Za-z0-9_.@-]{1,64}");
    private static final String USERNAME_RULE = "1 to 64 letters, digits, '_', '.', '@' or '-'";
    private static final Pattern TOKEN_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_TOKEN_NAME_CHARS = 100;
    private static final int TOKEN_BYTES = 32;
    /** Longer bearer strings cannot be ours; they are refused before hashing. */
    private static final int MAX_TOKEN_CHARS = 256;
    private static final int FORMAT_VERSION = 1;
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

    private record StoredUser(User user, String passwordHash) {
    }

    private record StoredToken(TokenInfo info, String sha256) {
    }

    private final Path usersFile;
    private final Path tokensFile;
    private final Clock clock;
    private final Duration loginTtl;
    /** By username; values are immutable, replaced whole. Written under {@link #lock}, read without it. */
    private final Map<String, StoredUser> users = new ConcurrentHashMap<>();
    /** By the SHA-256 (hex) of the token. Written under {@link #lock}, read without it. */
    private final Map<String, StoredToken> tokens = new ConcurrentHashMap<>();
    private final Object lock = new Object();
    /** A hash checked against when the user is unknown, so a failed login takes as long either way. */
    private volatile String decoy;
    private volatile boolean closed;

    private Accounts(Path dir, Duration loginTtl, Clock clock) {
        this.usersFile = dir.resolve(USERS_FILE);
        this.tokensFile = dir.resolve(TOKENS_FILE);
        this.loginTtl = loginTtl;
        this.clock = clock;
    }

    /**
     * Opens the users and tokens kept in {@code dir} (created when missing). On first start, when there is no
     * {@code users.json}, creates the user {@code admin} (administrator) with {@link AuthSettings#adminPassword()},
     * or with a generated password printed once on standard output.
     *
     * @throws IllegalStateException when a file is not what this class writes (it names the file and what is wrong)
     * @throws UncheckedIOException  when the folder or a file cannot be read or written
     */
    public static Accounts open(Path dir, AuthSettings settings, Clock clock) {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(clock, "clock");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the folder " + dir + " for users and tokens: " + e.getMessage(), e);
        }
        Accounts accounts = new Accounts(dir, Duration.ofHours(settings.tokenTtlHours()), clock);
        accounts.load(settings.adminPassword());
        return accounts;
    }

    // ---- the authenticator: on every request, so no password hashing and no disk

    @Override
    public Optional<Principal> authenticate(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return Optional.empty();
        }
        StoredToken t = tokens.get(sha256(token));
        if (t == null || expired(t.info(), clock.instant())) {
            return Optional.empty();
        }
        StoredUser u = users.get(t.info().user());
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
        StoredUser u = username == null ? null : users.get(username);
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
        Issued issued;
        synchronized (lock) {
            checkOpen();
            if (!users.containsKey(username)) {
                log.warn("login failed user={} from={} reason=the user was deleted meanwhile", username, printable(from));
                return Optional.empty();
            }
            Instant now = clock.instant();
            List<StoredToken> dropped = new ArrayList<>();
            List<StoredToken> logins = tokensOf(username, Kind.LOGIN, now);
            for (int i = 0; i <= logins.size() - MAX_LOGINS_PER_USER; i++) {
                dropped.add(logins.get(i));
            }
            issued = issue(username, Kind.LOGIN, "login", Optional.of(now.plus(loginTtl)), dropped);
        }
        log.info("login user={} from={} token={}", username, printable(from), issued.info().id());
        return Optional.of(issued);
    }

    /** Revokes {@code token} (a logout); false when it was not known. */
    public boolean logout(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return false;
        }
        synchronized (lock) {
            checkOpen();
            StoredToken t = tokens.remove(sha256(token));
            if (t == null) {
                return false;
            }
            persistTokens(() -> tokens.put(t.sha256(), t));
            log.info("logout user={} token={}", t.info().user(), t.info().id());
            return true;
        }
    }

    /**
     * Issues an API token named {@code name} for {@code user}: it acts with the user's role and does not expire until
     * revoked. The answer carries the token itself, which is kept nowhere: it cannot be shown again.
     */
    public Issued createApiToken(String user, String name) {
        String n = tokenName(name);
        synchronized (lock) {
            checkOpen();
            if (!users.containsKey(user)) {
                throw new AccountException(AccountException.Reason.NOT_FOUND, "there is no user '" + printable(user) + "'");
            }
            List<StoredToken> mine = tokensOf(user, Kind.API, clock.instant());
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
            Issued issued = issue(user, Kind.API, n, Optional.empty(), List.of());
            log.info("api token created user={} name={} token={}", user, printable(n), issued.info().id());
            return issued;
        }
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
        synchronized (lock) {
            checkOpen();
            StoredToken found = null;
            for (StoredToken t : tokens.values()) {
                if (t.info().id().equals(id) && !expired(t.info(), clock.instant())
                        && (t.info().user().equals(by.user()) || by.may(Role.ADMINISTRATOR))) {
                    found = t;
                }
            }
            if (found == null) {
                throw new AccountException(AccountException.Reason.NOT_FOUND, "you have no token with id '" + printable(id)
                        + "'; GET /api/auth/tokens lists yours");
            }
            StoredToken t = found;
            tokens.remove(t.sha256());
            persistTokens(() -> tokens.put(t.sha256(), t));
            log.info("token revoked user={} token={} by={}", t.info().user(), t.info().id(), by.user());
            return t.info();
        }
    }

    // ---- users

    /** Every user, by username. */
    public List<User> users() {
        return users.values().stream().map(StoredUser::user).sorted(Comparator.comparing(User::username)).toList();
    }

    public Optional<User> user(String username) {
        StoredUser u = username == null ? null : users.get(username);
        return u == null ? Optional.empty() : Optional.of(u.user());
    }

    /** Adds a user; the username must be new (in any letter case) and the password at least 8 characters. */
    public User createUser(String username, char[] password, Role role) {
        validateUsername(username);
        Objects.requireNonNull(role, "role");
        String hash = hashPassword(password);
        synchronized (lock) {
            checkOpen();
            for (String existing : users.keySet()) {
                if (existing.equalsIgnoreCase(username)) {
                    throw new AccountException(AccountException.Reason.CONFLICT, "a user named '" + existing
                            + "' already exists; choose another username or change that user with PUT /api/users/" + existing);
                }
            }
            StoredUser u = new StoredUser(new User(username, role, clock.instant()), hash);
            users.put(username, u);
            persistUsers(() -> users.remove(username));
            log.info("user created user={} role={}", username, role.id());
            return u.user();
        }
    }

    /**
     * Changes a user's password and/or role. The last administrator cannot be given a lesser role. The user's tokens
     * stay valid and act with the new role.
     */
    public User updateUser(String username, Optional<char[]> password, Optional<Role> role) {
        Optional<String> hash = password.map(Accounts::hashPassword);
        synchronized (lock) {
            checkOpen();
            StoredUser old = users.get(username);
            if (old == null) {
                throw noSuchUser(username);
            }
            Role newRole = role.orElse(old.user().role());
            if (old.user().role() == Role.ADMINISTRATOR && newRole != Role.ADMINISTRATOR && administrators() == 1) {
                throw new AccountException(AccountException.Reason.CONFLICT, "'" + username + "' is the last administrator: "
                        + "make another user an administrator before giving '" + username + "' the role " + newRole.id());
            }
            StoredUser u = new StoredUser(new User(username, newRole, old.user().created()), hash.orElse(old.passwordHash()));
            users.put(username, u);
            persistUsers(() -> users.put(username, old));
            log.info("user changed user={} role={} password={}", username, newRole.id(), hash.isPresent() ? "changed" : "kept");
            return u.user();
        }
    }

    /** Lets a user change their own password, given the current one; false when the current one is wrong. */
    public boolean changeOwnPassword(String username, char[] current, char[] password) {
        StoredUser u = users.get(username);
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

    /** Deletes a user and revokes all their tokens; the last administrator cannot be deleted. */
    public User deleteUser(String username) {
        synchronized (lock) {
            checkOpen();
            StoredUser old = users.get(username);
            if (old == null) {
                throw noSuchUser(username);
            }
            if (old.user().role() == Role.ADMINISTRATOR && administrators() == 1) {
                throw new AccountException(AccountException.Reason.CONFLICT, "'" + username
                        + "' is the last administrator and cannot be deleted: make another user an administrator first");
            }
            users.remove(username);
            persistUsers(() -> users.put(username, old));
            List<StoredToken> theirs = new ArrayList<>();
            for (StoredToken t : tokens.values()) {
                if (t.info().user().equals(username)) {
                    theirs.add(t);
                }
            }
            theirs.forEach(t -> tokens.remove(t.sha256()));
            try {
                persistTokens(() -> { });
            } catch (UncheckedIOException e) {
                // The user is gone from users.json, so their tokens cannot authenticate; the next start drops them.
                log.warn("user deleted user={} but its tokens could not be removed from {}: {}", username, tokensFile, e.getMessage());
            }
            log.info("user deleted user={} tokens revoked={}", username, theirs.size());
            return old.user();
        }
    }

    /** Refuses further changes; every change was already written when it was made. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
    }

    // ---- loading and the first start

    private void load(Optional<String> adminPassword) {
        if (Files.exists(usersFile)) {
            readUsers();
        } else {
            createAdmin(adminPassword);
        }
        boolean pruned = false;
        if (Files.exists(tokensFile)) {
            pruned = readTokens();
        }
        if (pruned) {
            persistTokens(() -> { });
        }
        if (administrators() == 0) {
            log.warn("{} has no administrator: nobody can manage users; add one to the file or move it away to "
                    + "have '{}' created again on the next start", usersFile, ADMIN);
        }
        log.info("accounts open dir={} users={} tokens={}", usersFile.getParent(), users.size(), tokens.size());
    }

    private void createAdmin(Optional<String> configured) {
        String password = configured.orElseGet(Accounts::generatePassword);
        users.put(ADMIN, new StoredUser(new User(ADMIN, Role.ADMINISTRATOR, clock.instant()), hashPassword(password.toCharArray())));
        persistUsers(() -> users.remove(ADMIN));
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

    private void readUsers() {
        JsonNode list = readArray(usersFile, "users");
        int i = 0;
        for (JsonNode n : list) {
            i++;
            String where = usersFile + ": user #" + i;
            String username = text(n, "username", where);
            if (!USERNAME.matcher(username).matches()) {
                throw corrupt(where + " has the username '" + printable(username) + "'; expected " + USERNAME_RULE);
            }
            String roleText = text(n, "role", where);
            Role role = Role.parse(roleText).orElseThrow(() -> corrupt(where + " ('" + username + "') has the role '"
                    + printable(roleText) + "'; expected user, support or administrator"));
            String hash = text(n, "password", where);
            if (!PasswordHash.looksHashed(hash)) {
                throw corrupt(where + " ('" + username + "') has a password that is not a hash; expected "
                        + PasswordHash.PREFIX + "<iterations>$<salt>$<hash>");
            }
            Instant created = instant(n, "created", where);
            if (users.putIfAbsent(username, new StoredUser(new User(username, role, created), hash)) != null) {
                throw corrupt(where + " repeats the username '" + username + "'");
            }
        }
    }

    /** Reads tokens.json; true when it held tokens that are expired or of users that no longer exist. */
    private boolean readTokens() {
        JsonNode list = readArray(tokensFile, "tokens");
        Instant now = clock.instant();
        boolean pruned = false;
        int i = 0;
        for (JsonNode n : list) {
            i++;
            String where = tokensFile + ": token #" + i;
            String id = text(n, "id", where);
            if (!TOKEN_ID.matcher(id).matches()) {
                throw corrupt(where + " has the id '" + printable(id) + "'; expected letters, digits, '_' or '-'");
            }
            String user = text(n, "user", where);
            String kindText = text(n, "kind", where);
            Kind kind = Kind.parse(kindText).orElseThrow(() -> corrupt(where + " has the kind '" + printable(kindText)
                    + "'; expected login or api"));
            String name = text(n, "name", where);
            String sha = text(n, "sha256", where);
            if (!SHA256_HEX.matcher(sha).matches()) {
                throw corrupt(where + " has a sha256 that is not 64 lower-case hex digits");
            }
            Instant created = instant(n, "created", where);
            Optional<Instant> expires = n.path("expires").isNull() || n.path("expires").isMissingNode()
                    ? Optional.empty() : Optional.of(instant(n, "expires", where));
            TokenInfo info = new TokenInfo(id, user, kind, name, created, expires);
            if (!users.containsKey(user) || expired(info, now)) {
                pruned = true;
                continue;
            }
            tokens.put(sha, new StoredToken(info, sha));
        }
        return pruned;
    }

    private static JsonNode readArray(Path file, String field) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw corrupt(file + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path(field).isArray()) {
            throw corrupt(file + " has no \"" + field + "\" array; expected {\"version\": 1, \"" + field + "\": [...]}");
        }
        int version = root.path("version").asInt(FORMAT_VERSION);
        if (version != FORMAT_VERSION) {
            throw corrupt(file + " has version " + version + "; this Junction reads version " + FORMAT_VERSION);
        }
        return root.get(field);
    }

    private static String text(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw corrupt(where + " has no text \"" + field + "\"");
        }
        return v.asText();
    }

    private static Instant instant(JsonNode n, String field, String where) {
        String v = text(n, field, where);
        try {
            return Instant.parse(v);
        } catch (DateTimeParseException e) {
            throw corrupt(where + " has \"" + field + "\": \"" + printable(v) + "\", which is not an ISO-8601 instant");
        }
    }

    private static IllegalStateException corrupt(String what) {
        return new IllegalStateException(what + " (fix or move away the file; moving users.json away has 'admin' created again)");
    }

    // ---- writing

    /** Writes users.json; when that fails, runs {@code undo} (the caller holds the lock) and throws. */
    private void persistUsers(Runnable undo) {
        ObjectNode root = Json.object().put("version", FORMAT_VERSION);
        ArrayNode list = root.putArray("users");
        for (StoredUser u : users.values().stream().sorted(Comparator.comparing((StoredUser s) -> s.user().username())).toList()) {
            list.addObject()
                    .put("username", u.user().username())
                    .put("role", u.user().role().id())
                    .put("password", u.passwordHash())
                    .put("created", u.user().created().toString());
        }
        write(usersFile, root, undo);
    }

    private void persistTokens(Runnable undo) {
        ObjectNode root = Json.object().put("version", FORMAT_VERSION);
        ArrayNode list = root.putArray("tokens");
        Instant now = clock.instant();
        List<StoredToken> sorted = new ArrayList<>(tokens.values());
        sorted.sort(Comparator.comparing((StoredToken t) -> t.info().created()).thenComparing(t -> t.info().id()));
        for (StoredToken t : sorted) {
            if (expired(t.info(), now)) {
                tokens.remove(t.sha256());
                continue;
            }
            ObjectNode o = list.addObject()
                    .put("id", t.info().id())
                    .put("user", t.info().user())
                    .put("kind", t.info().kind().id())
                    .put("name", t.info().name())
                    .put("sha256", t.sha256())
                    .put("created", t.info().created().toString());
            if (t.info().expires().isPresent()) {
                o.put("expires", t.info().expires().get().toString());
            } else {
                o.putNull("expires");
            }
        }
        write(tokensFile, root, undo);
    }

    private static void write(Path file, ObjectNode root, Runnable undo) {
        try {
            writeAtomically(file, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        } catch (IOException e) {
            undo.run();
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage() + "; the change was not made", e);
        }
    }

    /** Temp file, fsync, rename over the old file, fsync the folder: a crash leaves the old file or the new one. */
    static void writeAtomically(Path file, byte[] bytes) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        FileAttribute<?>[] ownerOnly = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                ? new FileAttribute<?>[]{PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
                : new FileAttribute<?>[0];
        try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), ownerOnly)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some systems cannot open a folder to flush it; the rename is still atomic there.
        }
    }

    // ---- helpers (the caller holds the lock where state changes)

    private Issued issue(String user, Kind kind, String name, Optional<Instant> expires, List<StoredToken> dropped) {
        String token = randomText(TOKEN_BYTES);
        String id;
        do {
            id = randomText(9);
        } while (idTaken(id));
        StoredToken t = new StoredToken(new TokenInfo(id, user, kind, name, clock.instant(), expires), sha256(token));
        dropped.forEach(d -> tokens.remove(d.sha256()));
        tokens.put(t.sha256(), t);
        persistTokens(() -> {
            tokens.remove(t.sha256());
            dropped.forEach(d -> tokens.put(d.sha256(), d));
        });
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

    private long administrators() {
        return users.values().stream().filter(u -> u.user().role() == Role.ADMINISTRATOR).count();
    }

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
