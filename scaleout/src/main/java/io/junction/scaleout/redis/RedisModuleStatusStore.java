package io.junction.scaleout.redis;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.status.ModuleStatusStore;
import io.junction.scaleout.EngineHealth;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The module status port on Redis, in PlaceOS' layout, so that PlaceOS tools reading Redis see Junction's modules and
 * Junction hears what any writer (another node, a PlaceOS tool) changes:
 * <ul>
 *   <li>hash {@code status/<module_id>}: status name → JSON text. A set is one Lua script that compares, {@code HSET}s
 *       and {@code PUBLISH}es {@code status/<module_id>/<name> <json>} only when the value differs, so "changed" is
 *       exact even with several writers; a delete is {@code HDEL} + a publish of {@code null};</li>
 *   <li>hash {@code system/<system_id>}: {@code <ModuleName>/<index>} → module id, replaced whole ({@code DEL} +
 *       {@code HSET} in one script) followed by {@code PUBLISH lookup-change <system_id>};</li>
 *   <li>string {@code interface/<module_id>}: the driver metadata JSON.</li>
 * </ul>
 *
 * <p>Listeners are called on the store's one subscriber thread ({@code PSUBSCRIBE status/*} + {@code SUBSCRIBE
 * lookup-change}), in Redis' order, for changes by any writer. {@link #listen} returns only after both subscriptions
 * are acknowledged, so a caller that reads a value after it returned misses no change (PlaceOS' bind rule). While a
 * listener is registered, a write of this store that published returns only after the listeners heard it (bounded by
 * {@link #ECHO_WAIT}), so this node sees its own changes as the embedded store's callers do. A JSON {@code null}
 * value is heard as a deletion: PlaceOS publishes {@code null} for both. Redis' pub/sub ignores the database number,
 * so two deployments on one Redis hear each other's channels.
 *
 * <p>Every command is answered by Redis before the call returns, so {@link #flush()} has nothing to wait for; how
 * durable an answered write is, is Redis' persistence ({@code appendonly yes} loses nothing when the process is
 * killed, and at most about a second with {@code appendfsync everysec} when the machine crashes). When Redis goes away
 * a call throws {@link IllegalStateException} ({@code redis at host:port: ... failed: ...}) after one retry; the engine
 * is reported down within about two seconds and up again when it answers; the subscriber reconnects by itself.
 * Changes published while it was disconnected are not heard: it logs and counts each {@link #resubscribes()} and
 * calls {@link Listener#resynced()} so that listeners re-read what they show.
 */
public final class RedisModuleStatusStore implements ModuleStatusStore {

    private static final Logger log = LoggerFactory.getLogger(RedisModuleStatusStore.class);

    /** How long a write waits for this store's listeners to hear it before it returns anyway (and counts it). */
    static final Duration ECHO_WAIT = Duration.ofSeconds(2);
    /** How long {@link #listen} waits for the subscriptions to be acknowledged. */
    static final Duration LISTEN_WAIT = Duration.ofSeconds(10);
    static final String NULL = "null";

    /** KEYS[1] status/<m>; ARGV name, json, channel. 1 when it changed (and was published). */
    private static final String SET = """
            if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            redis.call('PUBLISH', ARGV[3], ARGV[2])
            return 1""";
    /** KEYS[1] status/<m>; ARGV name, channel. 1 when there was one (and null was published). */
    private static final String DELETE = """
            if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
            redis.call('PUBLISH', ARGV[2], 'null')
            return 1""";
    /** KEYS[1] status/<m>; ARGV channel prefix status/<m>/. The names deleted, each published as null. */
    private static final String CLEAR = """
            local names = redis.call('HKEYS', KEYS[1])
            redis.call('DEL', KEYS[1])
            for _, name in ipairs(names) do redis.call('PUBLISH', ARGV[1] .. name, 'null') end
            return names""";
    /** KEYS[1] system/<s>; ARGV system id, then field, module id pairs. */
    private static final String REPLACE_SYSTEM = """
            redis.call('DEL', KEYS[1])
            for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
            redis.call('PUBLISH', 'lookup-change', ARGV[1])
            return 1""";

    private final RedisLink link;
    private final StatusSubscriber subscriber;
    private final AtomicBoolean subscriberStarted = new AtomicBoolean();
    private final CopyOnWriteArrayList<Registration> registrations = new CopyOnWriteArrayList<>();
    private final Echoes echoes = new Echoes();
    private final LongAdder malformed = new LongAdder();
    private final LongAdder resubscribes = new LongAdder();
    private final LongAdder listenerFailures = new LongAdder();
    private final LongAdder echoTimeouts = new LongAdder();
    private volatile boolean closed;

    private RedisModuleStatusStore(RedisLink link) {
        this.link = link;
        this.subscriber = new StatusSubscriber(link.endpoint, new Dispatch());
        link.onDown(subscriber::drop);
    }

    /**
     * Opens the module status kept in the Redis at {@code url} ({@code redis://[user:password@]host:port[/db]}),
     * reporting the engine's health to {@code health}. Throws {@link IllegalStateException}
     * ({@code redis at host:port does not answer: ...}) when it does not answer PING within two seconds, and
     * {@link IllegalArgumentException} for a bad url.
     */
    public static RedisModuleStatusStore open(String url, EngineHealth health) {
        Objects.requireNonNull(health, "health");
        RedisModuleStatusStore store = new RedisModuleStatusStore(RedisLink.open(url, health, "junction-module-status"));
        log.info("module status on redis at={} db={}", store.link.address(), store.link.endpoint.database());
        return store;
    }

    // ---- status/<module_id>

    @Override
    public boolean set(ModuleId module, String name, String json) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(json, "json");
        String channel = channel(module, name);
        Echoes.Echo echo = expectEcho(channel, json);
        boolean changed;
        try {
            changed = one(link.call("set of status/" + module + " " + name,
                    r -> r.eval(SET, List.of(statusKey(module)), List.of(name, json, channel))));
        } catch (RuntimeException e) {
            echoes.forget(echo);
            throw e;
        }
        settle(echo, changed);
        return changed;
    }

    @Override
    public boolean delete(ModuleId module, String name) {
        Objects.requireNonNull(name, "name");
        String channel = channel(module, name);
        Echoes.Echo echo = expectEcho(channel, NULL);
        boolean deleted;
        try {
            deleted = one(link.call("delete of status/" + module + " " + name,
                    r -> r.eval(DELETE, List.of(statusKey(module)), List.of(name, channel))));
        } catch (RuntimeException e) {
            echoes.forget(echo);
            throw e;
        }
        settle(echo, deleted);
        return deleted;
    }

    @Override
    public Optional<String> get(ModuleId module, String name) {
        Objects.requireNonNull(name, "name");
        return Optional.ofNullable(link.call("read of status/" + module, r -> r.hget(statusKey(module), name)));
    }

    @Override
    public SortedMap<String, String> all(ModuleId module) {
        Map<String, String> vars = link.call("read of status/" + module, r -> r.hgetAll(statusKey(module)));
        return new TreeMap<>(vars);
    }

    @Override
    public void clear(ModuleId module) {
        String prefix = statusKey(module) + "/";
        // The names are read first only to know which echoes to wait for; the script deletes whatever is there then.
        Map<String, Echoes.Echo> expected = new HashMap<>();
        if (waitsForEchoes()) {
            for (String name : link.call("read of status/" + module, r -> r.hkeys(statusKey(module)))) {
                expected.put(name, echoes.expect(prefix + name, NULL));
            }
        }
        Object reply;
        try {
            reply = link.call("clear of status/" + module, r -> r.eval(CLEAR, List.of(statusKey(module)), List.of(prefix)));
        } catch (RuntimeException e) {
            expected.values().forEach(echoes::forget);
            throw e;
        }
        Set<String> deleted = new HashSet<>();
        if (reply instanceof List<?> names) {
            names.forEach(n -> deleted.add(String.valueOf(n)));
        }
        expected.forEach((name, echo) -> settle(echo, deleted.contains(name)));
    }

    // ---- system/<system_id>

    @Override
    public void replaceSystem(SystemId system, Map<ModuleRef, ModuleId> lookup) {
        List<String> args = new ArrayList<>(1 + 2 * lookup.size());
        args.add(system.value());
        lookup.forEach((ref, id) -> {
            args.add(ModuleStatusStore.field(ref));
            args.add(id.value());
        });
        Echoes.Echo echo = expectEcho(StatusSubscriber.LOOKUP_CHANGE, system.value());
        try {
            link.call("replace of system/" + system, r -> r.eval(REPLACE_SYSTEM, List.of(systemKey(system)), args));
        } catch (RuntimeException e) {
            echoes.forget(echo);
            throw e;
        }
        settle(echo, true);
    }

    @Override
    public Optional<ModuleId> lookup(SystemId system, ModuleRef ref) {
        String id = link.call("read of system/" + system, r -> r.hget(systemKey(system), ModuleStatusStore.field(ref)));
        if (id == null) {
            return Optional.empty();
        }
        if (!ModuleId.isValid(id)) {
            malformed("system/" + system + " " + ModuleStatusStore.field(ref), id);
            return Optional.empty();
        }
        return Optional.of(ModuleId.of(id));
    }

    @Override
    public Map<ModuleRef, ModuleId> system(SystemId system) {
        Map<String, String> raw = link.call("read of system/" + system, r -> r.hgetAll(systemKey(system)));
        Map<ModuleRef, ModuleId> lookup = new HashMap<>();
        raw.forEach((field, id) -> {
            Optional<ModuleRef> ref = ModuleStatusStore.parseField(field);
            if (ref.isPresent() && ModuleId.isValid(id)) {
                lookup.put(ref.get(), ModuleId.of(id));
            } else {
                malformed("system/" + system + " " + field, id);
            }
        });
        return Map.copyOf(lookup);
    }

    // ---- interface/<module_id>

    @Override
    public void setInterface(ModuleId module, String json) {
        Objects.requireNonNull(json, "json");
        link.call("set of interface/" + module, r -> r.set(interfaceKey(module), json));
    }

    @Override
    public Optional<String> getInterface(ModuleId module) {
        return Optional.ofNullable(link.call("read of interface/" + module, r -> r.get(interfaceKey(module))));
    }

    @Override
    public void deleteInterface(ModuleId module) {
        link.call("delete of interface/" + module, r -> r.del(interfaceKey(module)));
    }

    // ---- listeners

    /**
     * Registers a listener, called on the subscriber thread for changes by any writer; returns once the subscriptions
     * are acknowledged. Throws {@link IllegalStateException} when they are not within {@link #LISTEN_WAIT} (Redis is
     * away).
     */
    @Override
    public Subscription listen(Listener listener) {
        Objects.requireNonNull(listener, "listener");
        if (closed) {
            throw new IllegalStateException("the module status store on redis at " + link.address() + " is closed");
        }
        Registration registration = new Registration(listener);
        registrations.add(registration);
        if (subscriberStarted.compareAndSet(false, true)) {
            subscriber.start();
        }
        if (!subscriber.awaitLive(LISTEN_WAIT)) {
            registrations.remove(registration);
            throw new IllegalStateException("redis at " + link.address() + ": the subscription to " + StatusSubscriber.STATUS_PATTERN
                    + " and " + StatusSubscriber.LOOKUP_CHANGE + " was not acknowledged within " + LISTEN_WAIT.toSeconds() + " s");
        }
        return registration;
    }

    /** Nothing to wait for: every write was answered by Redis before it returned (see the class comment). */
    @Override
    public void flush() {
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        registrations.clear();
        subscriber.close();
        echoes.releaseAll();
        link.close();
        log.info("module status on redis closed at={} resubscribes={} malformed={} listenerFailures={} echoTimeouts={}",
                link.address(), resubscribes.sum(), malformed.sum(), listenerFailures.sum(), echoTimeouts.sum());
    }

    /** Messages skipped because their channel, module id or system id was not one (each logged). */
    public long malformedMessages() {
        return malformed.sum();
    }

    /** How often the subscriber subscribed again after losing its connection (changes meanwhile were not heard). */
    public long resubscribes() {
        return resubscribes.sum();
    }

    /** Writes that returned before their listeners heard them (see {@link #ECHO_WAIT}). */
    long echoTimeouts() {
        return echoTimeouts.sum();
    }

    // ---- the layout

    static String statusKey(ModuleId module) {
        return "status/" + module.value();
    }

    static String channel(ModuleId module, String name) {
        return "status/" + module.value() + "/" + name;
    }

    static String systemKey(SystemId system) {
        return "system/" + system.value();
    }

    static String interfaceKey(ModuleId module) {
        return "interface/" + module.value();
    }

    // ---- waiting for our own echo

    private boolean waitsForEchoes() {
        return !registrations.isEmpty() && subscriber.live() && !subscriber.onSubscriberThread();
    }

    /** A wait for {@code payload} on {@code channel} when listeners would hear it; null otherwise. */
    private Echoes.Echo expectEcho(String channel, String payload) {
        return waitsForEchoes() ? echoes.expect(channel, payload) : null;
    }

    /** After a write: waits for the echo when the write published, forgets it otherwise. */
    private void settle(Echoes.Echo echo, boolean published) {
        if (echo == null) {
            return;
        }
        if (!published) {
            echoes.forget(echo);
        } else if (!echoes.await(echo, ECHO_WAIT)) {
            echoTimeouts.increment();
            log.warn("redis listeners did not hear this store's own change within {} ms at={} (a listener blocks, or the "
                    + "subscriber reconnects); going on echoTimeouts={}", ECHO_WAIT.toMillis(), link.address(), echoTimeouts.sum());
        }
    }

    private static boolean one(Object reply) {
        return reply instanceof Long l && l == 1L;
    }

    private void malformed(String where, String what) {
        malformed.increment();
        long n = malformed.sum();
        if (n <= 10 || n % 1000 == 0) {
            log.warn("redis skipped a malformed entry at={} where=\"{}\" value=\"{}\" malformed={}", link.address(), abbreviate(where),
                    abbreviate(what), n);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    /** What the subscriber hears, turned into listener calls. */
    private final class Dispatch implements StatusSubscriber.Sink {

        @Override
        public void message(String channel, String payload) {
            if (StatusSubscriber.LOOKUP_CHANGE.equals(channel)) {
                if (!SystemId.isValid(payload)) {
                    malformed(channel, payload);
                    return;
                }
                SystemId system = SystemId.of(payload);
                for (Registration r : registrations) {
                    r.lookupChanged(system);
                }
            } else {
                int cut = channel.indexOf('/', "status/".length());
                String id = cut < 0 ? "" : channel.substring("status/".length(), cut);
                if (!channel.startsWith("status/") || cut == channel.length() - 1 || !ModuleId.isValid(id)) {
                    malformed(channel, payload);
                    return;
                }
                ModuleId module = ModuleId.of(id);
                String name = channel.substring(cut + 1);
                Optional<String> json = NULL.equals(payload) ? Optional.empty() : Optional.of(payload);
                for (Registration r : registrations) {
                    r.statusChanged(module, name, json);
                }
            }
            echoes.heard(channel, payload);
        }

        @Override
        public void subscribed(boolean again) {
            if (again) {
                resubscribes.increment();
                log.warn("redis subscriber is back at={}; changes published while it was away were not heard resubscribes={}",
                        link.address(), resubscribes.sum());
                for (Registration r : registrations) {
                    r.resynced();
                }
            }
        }

        @Override
        public void lost(String reason) {
            echoes.releaseAll();
        }
    }

    /** One registered listener; closing it stops the calls. */
    private final class Registration implements Subscription {
        private final Listener listener;
        private volatile boolean open = true;

        Registration(Listener listener) {
            this.listener = listener;
        }

        void statusChanged(ModuleId module, String name, Optional<String> json) {
            if (!open) {
                return;
            }
            try {
                listener.statusChanged(module, name, json);
            } catch (RuntimeException e) {
                listenerFailures.increment();
                log.warn("a module status listener failed on status/{} {}: {}", module, name, e.toString(), e);
            }
        }

        void lookupChanged(SystemId system) {
            if (!open) {
                return;
            }
            try {
                listener.lookupChanged(system);
            } catch (RuntimeException e) {
                listenerFailures.increment();
                log.warn("a module status listener failed on lookup-change system={}: {}", system, e.toString(), e);
            }
        }

        void resynced() {
            if (!open) {
                return;
            }
            try {
                listener.resynced();
            } catch (RuntimeException e) {
                listenerFailures.increment();
                log.warn("a module status listener failed on resync: {}", e.toString(), e);
            }
        }

        @Override
        public void close() {
            open = false;
            registrations.remove(this);
        }
    }
}
