package io.junction.core.config;

import io.junction.core.RoutingKey;
import io.junction.core.auth.PasswordHash;
import io.junction.core.feature.Feature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads {@code junction.toml} into a {@link JunctionConfig}: the spine's sections here, every other section through
 * the {@link Feature#check check} of the feature that owns it. Unknown keys and bad values stop it with a
 * {@link ConfigException} that names the file, the line, the key and what is expected; a top-level section that
 * neither the spine nor a feature reads is an unknown key. Secrets may come from the environment it is given
 * ({@code key_password_env}), which the composition root reads once.
 */
public final class ConfigLoader {

    private final Function<String, String> env;
    private final List<Feature<?>> features;

    /** A loader of the spine's sections only: any other section is unknown to it. */
    public ConfigLoader(Function<String, String> env) {
        this(env, List.of());
    }

    /** A loader of the spine's sections and of those of {@code features}. */
    public ConfigLoader(Function<String, String> env, List<? extends Feature<?>> features) {
        this.env = env;
        this.features = List.copyOf(features);
        Set<String> names = new HashSet<>();
        for (Feature<?> f : this.features) {
            if (!names.add(f.name())) {
                throw new IllegalArgumentException("two features are named '" + f.name() + "'");
            }
        }
    }

    public JunctionConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": the config file does not exist");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read the config file: " + e.getMessage());
        }
        return parse(file.toString(), text);
    }

    public JunctionConfig parse(String fileName, String text) {
        Section root = Section.parse(fileName, text, env);
        JunctionConfig.Mqtt mqtt = mqtt(root.table("mqtt"));
        JunctionConfig.Http http = http(root.table("http"));
        JunctionConfig.Data data = data(root.table("data"));
        JunctionConfig.Mapping mapping = mapping(root.table("mapping"));
        JunctionConfig.Live live = live(root.table("live"));
        Map<String, Object> settings = new LinkedHashMap<>();
        for (Feature<?> f : features) {
            settings.put(f.name(), Objects.requireNonNull(f.check(root), () -> "the feature " + f.name() + " checked no settings"));
        }
        root.finish();
        if (mqtt.port() != 0 && mqtt.port() == http.port() && mqtt.host().equals(http.host())) {
            throw root.error("http", "port " + http.port() + " is also the MQTT port; give them different ports");
        }
        return new JunctionConfig(fileName, mqtt, http, data, mapping, live, settings, env);
    }

    private JunctionConfig.Mqtt mqtt(Section s) {
        JunctionConfig.Mqtt d = JunctionConfig.Mqtt.defaults();
        String host = s.string("host", d.host());
        int port = s.port("port", d.port());
        boolean anonymous = s.bool("anonymous", d.anonymous());
        int maxPayload = (int) s.integer("max_payload_bytes", d.maxPayloadBytes(), 1, 256L * 1024 * 1024);
        int receiveMaximum = (int) s.integer("receive_maximum", d.receiveMaximum(), 1, 65535);
        int sessionQueue = (int) s.integer("session_queue", d.sessionQueue(), 1, 1_000_000);
        Optional<JunctionConfig.Tls> tls = JunctionConfig.Tls.read(s.table("tls"), 8883);
        Map<String, JunctionConfig.User> users = new LinkedHashMap<>();
        Section u = s.table("users");
        for (String name : u.keys()) {
            Section one = u.table(name);
            String hash = one.string("password", null);
            if (hash == null) {
                throw one.error("password", "is required: the PBKDF2 hash of the user's password (make one with './junction passwd')");
            }
            if (!PasswordHash.looksHashed(hash)) {
                throw one.error("password", "must be a password hash starting with 'pbkdf2-sha256$', never the password itself (make one with './junction passwd')");
            }
            String device = one.string("device", name);
            List<String> publish = one.stringList("publish", List.of());
            List<String> subscribe = one.stringList("subscribe", List.of());
            for (String f : publish) {
                checkFilter(one, "publish", f);
            }
            for (String f : subscribe) {
                checkFilter(one, "subscribe", f);
            }
            one.finish();
            users.put(name, new JunctionConfig.User(name, hash, device, publish, subscribe));
        }
        s.finish();
        return new JunctionConfig.Mqtt(host, port, anonymous, maxPayload, receiveMaximum, sessionQueue, tls, Map.copyOf(users));
    }

    private static void checkFilter(Section s, String key, String filter) {
        if (filter.isEmpty()) {
            throw s.error(key, "a topic filter must not be empty");
        }
        String[] levels = filter.split("/", -1);
        for (int i = 0; i < levels.length; i++) {
            String l = levels[i];
            if ((l.contains("#") && (!l.equals("#") || i != levels.length - 1)) || (l.contains("+") && !l.equals("+"))) {
                throw s.error(key, "'" + filter + "' is not a valid MQTT topic filter: '+' must be a whole level and '#' the whole last level");
            }
        }
    }

    private JunctionConfig.Http http(Section s) {
        JunctionConfig.Http http = new JunctionConfig.Http(s.string("host", "0.0.0.0"), s.port("port", 8080));
        s.finish();
        return http;
    }

    private JunctionConfig.Data data(Section s) {
        JunctionConfig.Data d = JunctionConfig.Data.defaults();
        String dir = s.string("dir", d.dir().toString());
        if (dir.isBlank()) {
            throw s.error("dir", "expected the path of a directory, got an empty string");
        }
        JunctionConfig.Fsync fsync = s.choice("fsync", d.fsync(), JunctionConfig.Fsync.class);
        int interval = (int) s.integer("fsync_interval_ms", d.fsyncIntervalMillis(), 1, 60_000);
        long segment = s.integer("segment_bytes", d.segmentBytes(), 1024 * 1024, 1L << 40);
        s.finish();
        return new JunctionConfig.Data(Path.of(dir), fsync, interval, segment);
    }

    private JunctionConfig.Mapping mapping(Section s) {
        Map<String, String> devices = s.stringMap("devices");
        for (Map.Entry<String, String> e : devices.entrySet()) {
            Section d = s.table("devices");
            if (e.getKey().isEmpty() || e.getKey().contains("+") || e.getKey().contains("#") || e.getKey().startsWith("/") || e.getKey().endsWith("/")) {
                throw d.error(e.getKey(), "a physical device id must be a topic prefix without wildcards and without a leading or trailing '/'");
            }
            if (!RoutingKey.isValid(e.getValue())) {
                throw d.error(e.getKey(), "'" + e.getValue() + "' is not a valid routing key: use dotted words such as \"bedroom.light\"");
            }
        }
        Map<String, String> subtopics = s.stringMap("subtopics");
        for (Map.Entry<String, String> e : subtopics.entrySet()) {
            if (!RoutingKey.isValid(e.getValue())) {
                throw s.table("subtopics").error(e.getKey(), "'" + e.getValue() + "' is not a valid routing-key word");
            }
        }
        Section types = s.table("types");
        String input = types.string("input", "status");
        String output = types.string("output", "command");
        for (String k : List.of("input", "output")) {
            String v = k.equals("input") ? input : output;
            if (!io.junction.core.Message.isValidKind(v)) {
                throw types.error(k, "expected a topic level made of lower-case letters, digits, '_' or '-', got \"" + v + "\"");
            }
        }
        if (input.equals(output)) {
            throw types.error("output", "must differ from input (\"" + input + "\")");
        }
        types.finish();
        s.finish();
        return new JunctionConfig.Mapping(Map.copyOf(devices), Map.copyOf(subtopics), input, output);
    }

    private JunctionConfig.Live live(Section s) {
        JunctionConfig.Live live = new JunctionConfig.Live((int) s.integer("queue", 1024, 1, 1_000_000));
        s.finish();
        return live;
    }
}
