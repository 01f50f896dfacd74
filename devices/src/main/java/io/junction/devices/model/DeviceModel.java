package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.auth.Principal;
import io.junction.core.egress.CommandSender;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.devices.ModuleCalls;
import io.junction.devices.driver.Arguments;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live model of devices and rooms: modules (driver instances running as actors) and systems (ordered lists of
 * modules, found by name and 1-based index), stored in {@code model.json}; their status variables; indirect bindings;
 * and exec — resolve, check arguments against the metadata, check the caller's role, run on the module's actor with a
 * timeout. Changes to the model are made under one lock and written before they are answered.
 */
public final class DeviceModel implements ModuleCalls, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeviceModel.class);
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,63}");

    private final Path dir;
    private final DriverCatalog drivers;
    private final CommandSender commands;
    private final Clock clock;
    private final long execTimeoutMillis;
    private final StatusTable status;
    private final Bindings bindings;
    private final Map<String, ModuleSpec> modules = new LinkedHashMap<>();
    private final Map<String, SystemSpec> systems = new LinkedHashMap<>();
    private final Map<String, ModuleActor> running = new ConcurrentHashMap<>();
    /** Exact keys followed by modules, and patterns with wildcards. */
    private final Map<RoutingKey, List<ModuleActor>> followedKeys = new ConcurrentHashMap<>();
    private final List<Map.Entry<RoutingPattern, ModuleActor>> followedPatterns = new CopyOnWriteArrayList<>();
    private final Map<String, List<ModuleActor>> byDevice = new ConcurrentHashMap<>();
    private final Map<String, List<Consumer<String>>> debugListeners = new ConcurrentHashMap<>();
    private final List<Consumer<String>> stoppingListeners = new CopyOnWriteArrayList<>();
    private final Counter denied;
    private final Timer execTimer;
    private final ModuleActor.Host host;
    private final Optional<io.junction.core.hub.EventHub> hub;
    private MessageStream.Tap tap;

    private DeviceModel(Builder b) {
        this.dir = b.dir;
        this.drivers = b.drivers;
        this.commands = b.commands;
        this.clock = b.clock;
        this.execTimeoutMillis = b.execTimeoutMillis;
        this.hub = Optional.ofNullable(b.hub);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        this.status = new StatusTable(dir);
        this.bindings = new Bindings(status::get);
        status.listener(bindings::changed);
        this.denied = Counter.builder("junction.devices.exec.denied").description("Function calls refused for the caller's role")
                .register(b.metrics);
        this.execTimer = Timer.builder("junction.devices.exec").description("Function calls on modules, from check to answer")
                .publishPercentiles(0.5, 0.99).register(b.metrics);
        Gauge.builder("junction.devices.modules.running", running, Map::size).register(b.metrics);
        Gauge.builder("junction.devices.bindings", bindings, Bindings::size).register(b.metrics);
        this.host = new ModuleActor.Host() {
            @Override
            public StatusTable status() {
                return status;
            }

            @Override
            public void follow(ModuleActor actor, RoutingPattern pattern) {
                if (pattern.value().contains("*") || pattern.value().contains("#")) {
                    followedPatterns.add(Map.entry(pattern, actor));
                } else {
                    followedKeys.computeIfAbsent(RoutingKey.of(pattern.value()), k -> new CopyOnWriteArrayList<>()).add(actor);
                }
            }

            @Override
            public void unfollowAll(ModuleActor actor) {
                followedPatterns.removeIf(e -> e.getValue() == actor);
                followedKeys.values().forEach(l -> l.remove(actor));
            }

            @Override
            public CompletableFuture<Message> send(RoutingKey key, String body) {
                return commands.send(key, body);
            }

            @Override
            public void debug(String moduleId, String line) {
                log.debug("module id={} {}", moduleId, line);
                List<Consumer<String>> l = debugListeners.get(moduleId);
                if (l != null) {
                    l.forEach(c -> c.accept(line));
                }
            }

            @Override
            public Clock clock() {
                return clock;
            }
        };
        load();
        drivers.onReplaced(this::driverReplaced);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts every module that was running, in the order they were created, and starts following the raw stream. A
     * module whose driver is missing or fails to start is logged and left stopped-with-error; the rest go on.
     */
    public void start(MessageStream raw) {
        List<ModuleSpec> toStart;
        synchronized (this) {
            toStart = modules.values().stream().filter(ModuleSpec::running).toList();
        }
        for (ModuleSpec m : toStart) {
            try {
                startActor(m).get(execTimeoutMillis, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                log.warn("module id={} did not start again: {}", m.id(), cause(e).getMessage());
            }
        }
        tap = raw.tap(this::onRaw);
        log.info("devices ready modules={} running={} systems={}", modules.size(), running.size(), systems.size());
    }

    private void onRaw(StreamEntry entry) {
        Message m = entry.message();
        List<ModuleActor> exact = followedKeys.get(m.key());
        if (exact != null) {
            for (ModuleActor a : exact) {
                a.deliver(m);
            }
        }
        for (Map.Entry<RoutingPattern, ModuleActor> e : followedPatterns) {
            if (e.getKey().matches(m.key())) {
                e.getValue().deliver(m);
            }
        }
        if (m.device() != null && !m.device().isEmpty() && Message.STATUS.equals(m.kind())) {
            List<ModuleActor> bound = byDevice.get(m.device());
            if (bound != null) {
                for (ModuleActor a : bound) {
                    a.deliver(m);
                }
            }
        }
    }

    // --- modules

    public synchronized List<ModuleSpec> modules() {
        return List.copyOf(modules.values());
    }

    public synchronized Optional<ModuleSpec> module(String id) {
        return Optional.ofNullable(modules.get(id));
    }

    /** The module as the API shows it: its spec, whether it runs, its driver's source and last error. */
    public ObjectNode moduleJson(ModuleSpec m) {
        ObjectNode o = Json.object();
        o.put("id", m.id()).put("name", m.name()).put("driver", m.driver());
        m.device().ifPresentOrElse(d -> o.put("device", d), () -> o.putNull("device"));
        o.set("settings", m.settings());
        ModuleActor a = running.get(m.id());
        o.put("running", a != null);
        o.put("state", a == null ? "stopped" : a.lastError().isEmpty() ? "running" : "error");
        if (a != null) {
            o.put("source", a.type().source());
            if (!a.lastError().isEmpty()) {
                o.put("error", a.lastError());
            }
            o.put("dropped", a.dropped());
        }
        o.set("status", status.all(m.id()));
        return o;
    }

    /** Creates a module from {@code {"id"?, "name"?, "driver", "device"?, "settings"?, "running"?}}; it starts unless running is false. */
    public ModuleSpec createModule(JsonNode body) {
        ModuleSpec spec;
        synchronized (this) {
            String id = optionalText(body, "id").orElseGet(() -> "mod-" + UUID.randomUUID().toString().substring(0, 8));
            check(ID, id, "id", "1 to 64 letters, digits, '_' or '-'");
            if (modules.containsKey(id)) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "a module with id '" + id + "' already exists");
            }
            String driverId = optionalText(body, "driver").orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                    "driver is required: the id of the driver the module runs (GET /api/drivers lists them)"));
            DriverType type = drivers.get(driverId).orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                    "there is no driver '" + driverId + "' (GET /api/drivers lists them)"));
            String name = optionalText(body, "name").orElse(type.metadata().name());
            check(NAME, name, "name", "a letter, then at most 63 letters, digits, '_' or '-' (e.g. Display)");
            Optional<String> device = optionalText(body, "device");
            ObjectNode settings = settings(body);
            boolean run = !body.has("running") || body.get("running").asBoolean(true);
            spec = new ModuleSpec(id, name, driverId, device, settings, run);
            modules.put(id, spec);
            save();
        }
        log.info("module created id={} name={} driver={}", spec.id(), spec.name(), spec.driver());
        if (spec.running()) {
            join(startActor(spec));
        }
        return spec;
    }

    /** Changes a module's name, settings or device; a running module restarts with them. */
    public ModuleSpec updateModule(String id, JsonNode body) {
        ModuleSpec updated;
        boolean wasRunning;
        synchronized (this) {
            ModuleSpec old = requireModule(id);
            String name = optionalText(body, "name").orElse(old.name());
            check(NAME, name, "name", "a letter, then at most 63 letters, digits, '_' or '-'");
            Optional<String> device = body.has("device") ? optionalText(body, "device") : old.device();
            ObjectNode settings = body.has("settings") ? settings(body) : old.settings();
            if (body.has("driver") && !body.get("driver").asText().equals(old.driver())) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "a module's driver cannot change; create a new module instead");
            }
            updated = new ModuleSpec(id, name, old.driver(), device, settings, old.running());
            modules.put(id, updated);
            save();
            wasRunning = running.containsKey(id);
        }
        if (wasRunning) {
            stopActor(id);
            join(startActor(updated));
        }
        reindexAll();
        return updated;
    }

    public ModuleSpec startModule(String id) {
        ModuleSpec spec;
        synchronized (this) {
            spec = requireModule(id).withRunning(true);
            modules.put(id, spec);
            save();
        }
        if (!running.containsKey(id)) {
            join(startActor(spec));
        }
        return spec;
    }

    public ModuleSpec stopModule(String id) {
        ModuleSpec spec;
        synchronized (this) {
            spec = requireModule(id).withRunning(false);
            modules.put(id, spec);
            save();
        }
        stopActor(id);
        return spec;
    }

    /** Deletes a module: stops it, removes it from every system, forgets its status. */
    public void deleteModule(String id) {
        synchronized (this) {
            requireModule(id);
        }
        stopActor(id);
        List<String> changed = new ArrayList<>();
        synchronized (this) {
            modules.remove(id);
            for (SystemSpec s : List.copyOf(systems.values())) {
                if (s.modules().contains(id)) {
                    List<String> rest = new ArrayList<>(s.modules());
                    rest.removeIf(id::equals);
                    systems.put(s.id(), new SystemSpec(s.id(), s.name(), rest));
                    changed.add(s.id());
                }
            }
            save();
        }
        status.remove(id);
        changed.forEach(this::reindex);
        log.info("module deleted id={}", id);
    }

    public ObjectNode status(String moduleId) {
        synchronized (this) {
            requireModule(moduleId);
        }
        return status.all(moduleId);
    }

    private CompletableFuture<Void> startActor(ModuleSpec spec) {
        DriverType type = drivers.get(spec.driver()).orElse(null);
        if (type == null) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.REQUEST_FAILED,
                    "module " + spec.id() + " cannot start: its driver '" + spec.driver() + "' is not loaded"));
        }
        ModuleActor actor = new ModuleActor(spec, type, host);
        if (running.putIfAbsent(spec.id(), actor) != null) {
            return CompletableFuture.completedFuture(null);
        }
        spec.device().ifPresent(d -> byDevice.computeIfAbsent(d, k -> new CopyOnWriteArrayList<>()).add(actor));
        return actor.start().whenComplete((v, e) -> publish(spec, e == null ? "started" : "failed",
                e == null ? type.source() : cause(e).getMessage()));
    }

    private void stopActor(String id) {
        ModuleActor actor = running.get(id);
        if (actor == null) {
            return;
        }
        for (Consumer<String> l : stoppingListeners) {
            try {
                l.accept(id);
            } catch (RuntimeException e) {
                log.warn("a stop listener failed for module {}: {}", id, e.toString());
            }
        }
        running.remove(id);
        actor.spec().device().ifPresent(d -> {
            List<ModuleActor> l = byDevice.get(d);
            if (l != null) {
                l.remove(actor);
            }
        });
        try {
            actor.stop().get(execTimeoutMillis, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("module id={} did not stop in {} ms: {}", id, execTimeoutMillis, cause(e).toString());
        }
        publish(actor.spec(), "stopped", "");
    }

    private void publish(ModuleSpec m, String event, String detail) {
        hub.ifPresent(h -> h.publish(new io.junction.devices.DevicesEvent("module", m.id(), m.driver(), m.id(), event,
                detail == null ? "" : detail)));
    }

    private void driverReplaced(DriverType type) {
        for (ModuleActor a : running.values()) {
            if (a.spec().driver().equals(type.metadata().id())) {
                a.swap(type).whenComplete((v, e) -> {
                    if (e != null) {
                        log.warn("module id={} did not restart on the new driver: {}", a.spec().id(), cause(e).getMessage());
                    }
                    publish(a.spec(), e == null ? "restarted" : "failed", e == null ? type.source() : cause(e).getMessage());
                });
            }
        }
    }

    // --- systems

    public synchronized List<SystemSpec> systems() {
        return List.copyOf(systems.values());
    }

    public synchronized Optional<SystemSpec> system(String id) {
        return Optional.ofNullable(systems.get(id));
    }

    /** The system as the API shows it, with its modules as {@code Display_1}-style references. */
    public synchronized ObjectNode systemJson(SystemSpec s) {
        ObjectNode o = Json.object();
        o.put("id", s.id()).put("name", s.name());
        ArrayNode mods = o.putArray("modules");
        s.modules().forEach(mods::add);
        ObjectNode index = o.putObject("index");
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String id : s.modules()) {
            ModuleSpec m = modules.get(id);
            if (m != null) {
                int n = counts.merge(m.name(), 1, Integer::sum);
                index.put(m.name() + "_" + n, id);
            }
        }
        return o;
    }

    /** Creates a system from {@code {"id"?, "name", "modules": [module ids]}}. */
    public SystemSpec createSystem(JsonNode body) {
        SystemSpec s;
        synchronized (this) {
            String id = optionalText(body, "id").orElseGet(() -> "sys-" + UUID.randomUUID().toString().substring(0, 8));
            check(ID, id, "id", "1 to 64 letters, digits, '_' or '-'");
            if (systems.containsKey(id)) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "a system with id '" + id + "' already exists");
            }
            String name = optionalText(body, "name").orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                    "name is required: the system's name, such as \"Boardroom\""));
            s = new SystemSpec(id, name, moduleList(body));
            systems.put(id, s);
            save();
        }
        reindex(s.id());
        return s;
    }

    /** Renames a system or replaces its ordered module list; bindings follow the new order. */
    public SystemSpec updateSystem(String id, JsonNode body) {
        SystemSpec s;
        synchronized (this) {
            SystemSpec old = systems.get(id);
            if (old == null) {
                throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + id + "'");
            }
            String name = optionalText(body, "name").orElse(old.name());
            List<String> mods = body.has("modules") ? moduleList(body) : old.modules();
            s = new SystemSpec(id, name, mods);
            systems.put(id, s);
            save();
        }
        reindex(id);
        return s;
    }

    public void deleteSystem(String id) {
        synchronized (this) {
            if (systems.remove(id) == null) {
                throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + id + "'");
            }
            save();
        }
        reindex(id);
    }

    /** The id of module {@code name} number {@code index} (1-based) of a system. */
    public synchronized Optional<String> resolve(String systemId, String name, int index) {
        SystemSpec s = systems.get(systemId);
        if (s == null || index < 1) {
            return Optional.empty();
        }
        int n = 0;
        for (String id : s.modules()) {
            ModuleSpec m = modules.get(id);
            if (m != null && m.name().equals(name) && ++n == index) {
                return Optional.of(id);
            }
        }
        return Optional.empty();
    }

    /** Like {@link #resolve} but failing with SYSTEM_NOT_FOUND or MODULE_NOT_FOUND. */
    public String require(String systemId, String name, int index) {
        synchronized (this) {
            if (!systems.containsKey(systemId)) {
                throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + systemId + "'");
            }
        }
        return resolve(systemId, name, index).orElseThrow(() -> new ExecException(ExecException.Code.MODULE_NOT_FOUND,
                "system " + systemId + " has no module " + name + "_" + index));
    }

    private void reindex(String systemId) {
        bindings.reindex(systemId, (name, index) -> resolve(systemId, name, index));
    }

    private void reindexAll() {
        for (SystemSpec s : systems()) {
            reindex(s.id());
        }
    }

    // --- bindings and debug

    /** Binds to a status variable of (system, module name, index); the listener hears the current value at once. */
    public AutoCloseable bind(String systemId, String module, int index, String statusName, Consumer<JsonNode> listener) {
        synchronized (this) {
            if (!systems.containsKey(systemId)) {
                throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + systemId + "'");
            }
        }
        return bindings.bind(systemId, module, index, statusName, resolve(systemId, module, index), listener);
    }

    /** Streams a module's debug lines to {@code listener} until the handle is closed. */
    public AutoCloseable debug(String moduleId, Consumer<String> listener) {
        List<Consumer<String>> l = debugListeners.computeIfAbsent(moduleId, k -> new CopyOnWriteArrayList<>());
        l.add(listener);
        return () -> l.remove(listener);
    }

    /** The driver type a running module runs (for its class name in debug frames). */
    public Optional<DriverType> runningType(String moduleId) {
        ModuleActor a = running.get(moduleId);
        return a == null ? Optional.empty() : Optional.of(a.type());
    }

    // --- exec

    /** Calls a function on module (system, name, index); see {@link #exec(Principal, String, String, JsonNode)}. */
    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function, JsonNode args) {
        return exec(caller, systemId, module, index, function, args, false);
    }

    /** Calls a function on module (system, name, index), on this thread when {@code here} and the module is idle. */
    public CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function,
                                            JsonNode args, boolean here) {
        try {
            return exec(caller, require(systemId, module, index), function, args, here);
        } catch (ExecException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args) {
        return exec(caller, moduleId, function, args, false);
    }

    /**
     * Like {@link #exec(Principal, String, String, JsonNode)}; with {@code here}, a caller that will wait for the
     * answer anyway (a WebSocket or REST request) runs the call on its own thread when the module is idle.
     */
    public CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args, boolean here) {
        long started = System.nanoTime();
        try {
            ModuleActor actor = running.get(moduleId);
            if (actor == null) {
                boolean exists;
                synchronized (this) {
                    exists = modules.containsKey(moduleId);
                }
                throw new ExecException(exists ? ExecException.Code.REQUEST_FAILED : ExecException.Code.MODULE_NOT_FOUND,
                        exists ? "module " + moduleId + " is stopped; start it first" : "there is no module '" + moduleId + "'");
            }
            DriverType type = actor.type();
            FunctionSpec f = type.metadata().function(function).orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                    "module " + moduleId + " (driver " + type.metadata().id() + ") has no function '" + function + "'; it has "
                            + String.join(", ", type.metadata().functions().keySet())));
            List<JsonNode> checked = Arguments.check(moduleId, f, args);
            if (!caller.may(f.role())) {
                denied.increment();
                log.warn("exec denied user={} role={} module={} function={} reason=needs role {}",
                        caller.user(), caller.role().id(), moduleId, function, f.role().id());
                throw new ExecException(ExecException.Code.ACCESS_DENIED, moduleId + "." + function + " needs the role "
                        + f.role().id() + "; user '" + caller.user() + "' has " + caller.role().id());
            }
            return (here ? actor.callHere(f, checked) : actor.call(f, checked))
                    .orTimeout(execTimeoutMillis, TimeUnit.MILLISECONDS)
                    .handle((v, e) -> {
                        execTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                        if (e == null) {
                            return v;
                        }
                        Throwable c = cause(e);
                        if (c instanceof TimeoutException) {
                            throw new ExecException(ExecException.Code.REQUEST_FAILED, moduleId + "." + function
                                    + " did not answer within " + execTimeoutMillis + " ms");
                        }
                        if (c instanceof ExecException x) {
                            throw x;
                        }
                        throw new ExecException(ExecException.Code.UNEXPECTED_FAILURE, moduleId + "." + function + " failed: " + c, c);
                    });
        } catch (ExecException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public Optional<String> driverOf(String moduleId) {
        return module(moduleId).map(ModuleSpec::driver);
    }

    @Override
    public void onStopping(Consumer<String> listener) {
        stoppingListeners.add(listener);
    }

    // --- storage

    private void load() {
        Path file = dir.resolve("model.json");
        if (!Files.exists(file)) {
            return;
        }
        try {
            JsonNode root = Json.MAPPER.readTree(file.toFile());
            for (JsonNode m : root.path("modules")) {
                ModuleSpec spec = new ModuleSpec(m.path("id").asText(), m.path("name").asText(), m.path("driver").asText(),
                        optionalText(m, "device"), m.path("settings").isObject() ? (ObjectNode) m.get("settings") : Json.object(),
                        m.path("running").asBoolean());
                modules.put(spec.id(), spec);
            }
            for (JsonNode s : root.path("systems")) {
                List<String> mods = new ArrayList<>();
                s.path("modules").forEach(n -> mods.add(n.asText()));
                systems.put(s.path("id").asText(), new SystemSpec(s.path("id").asText(), s.path("name").asText(), mods));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the device model in " + file + " cannot be read: " + e.getMessage()
                    + "; fix or move the file away", e);
        }
    }

    private void save() {
        ObjectNode root = Json.object();
        ArrayNode ms = root.putArray("modules");
        for (ModuleSpec m : modules.values()) {
            ObjectNode o = ms.addObject();
            o.put("id", m.id()).put("name", m.name()).put("driver", m.driver());
            m.device().ifPresent(d -> o.put("device", d));
            o.set("settings", m.settings());
            o.put("running", m.running());
        }
        ArrayNode ss = root.putArray("systems");
        for (SystemSpec s : systems.values()) {
            ObjectNode o = ss.addObject();
            o.put("id", s.id()).put("name", s.name());
            ArrayNode a = o.putArray("modules");
            s.modules().forEach(a::add);
        }
        StatusTable.writeAtomically(dir.resolve("model.json"), root);
    }

    // --- helpers

    private ModuleSpec requireModule(String id) {
        ModuleSpec m = modules.get(id);
        if (m == null) {
            throw new ExecException(ExecException.Code.MODULE_NOT_FOUND, "there is no module '" + id + "'");
        }
        return m;
    }

    private List<String> moduleList(JsonNode body) {
        JsonNode list = body.get("modules");
        if (list == null) {
            return List.of();
        }
        if (!list.isArray()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "modules must be a list of module ids, in order");
        }
        List<String> ids = new ArrayList<>();
        for (JsonNode n : list) {
            if (!n.isTextual() || !modules.containsKey(n.asText())) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: there is no module " + n
                        + " (create it first with POST /api/modules)");
            }
            ids.add(n.asText());
        }
        if (Set.copyOf(ids).size() != ids.size()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: a module may appear only once in a system");
        }
        return ids;
    }

    private static ObjectNode settings(JsonNode body) {
        JsonNode s = body.get("settings");
        if (s == null || s.isNull()) {
            return Json.object();
        }
        if (!s.isObject()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "settings must be a JSON object");
        }
        return (ObjectNode) s;
    }

    private static Optional<String> optionalText(JsonNode body, String key) {
        JsonNode n = body.get(key);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, key + " must be a non-empty text");
        }
        return Optional.of(n.asText());
    }

    private static void check(Pattern p, String value, String key, String expected) {
        if (!p.matcher(value).matches()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, key + " '" + value + "' is not valid: expected " + expected);
        }
    }

    private static void join(CompletableFuture<Void> f) {
        try {
            f.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof ExecException x) {
                throw x;
            }
            throw e;
        }
    }

    private static Throwable cause(Throwable e) {
        while ((e instanceof java.util.concurrent.CompletionException || e instanceof java.util.concurrent.ExecutionException)
                && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    /** Stops every module (jobs hear first and put devices in their neutral state), then writes the status. */
    @Override
    public void close() {
        if (tap != null) {
            tap.close();
        }
        for (String id : List.copyOf(running.keySet())) {
            stopActor(id);
        }
        status.close();
    }

    /** What the model needs; all but {@code execTimeoutMillis} are required. */
    public static final class Builder {
        private Path dir;
        private DriverCatalog drivers;
        private CommandSender commands;
        private Clock clock = Clock.systemUTC();
        private MeterRegistry metrics;
        private long execTimeoutMillis = 5_000;
        private io.junction.core.hub.EventHub hub;

        private Builder() {
        }

        /** Where module starts, stops and restarts are published ({@code devices.module.*}). */
        public Builder hub(io.junction.core.hub.EventHub hub) {
            this.hub = hub;
            return this;
        }

        public Builder dir(Path dir) {
            this.dir = dir;
            return this;
        }

        public Builder drivers(DriverCatalog drivers) {
            this.drivers = drivers;
            return this;
        }

        public Builder commands(CommandSender commands) {
            this.commands = commands;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        public Builder metrics(MeterRegistry metrics) {
            this.metrics = metrics;
            return this;
        }

        public Builder execTimeoutMillis(long millis) {
            this.execTimeoutMillis = millis;
            return this;
        }

        /** Opens the model in {@code dir}: reads {@code model.json} and {@code status.json}; modules start with {@link #start}. */
        public DeviceModel open() {
            java.util.Objects.requireNonNull(dir, "dir");
            java.util.Objects.requireNonNull(drivers, "drivers");
            java.util.Objects.requireNonNull(commands, "commands");
            java.util.Objects.requireNonNull(metrics, "metrics");
            return new DeviceModel(this);
        }
    }
}
