package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.actor.Actor;
import io.junction.core.actor.ActorException;
import io.junction.core.actor.Request;
import io.junction.core.auth.Principal;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.egress.CommandSender;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateOffsets;
import io.junction.core.state.StateStore;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.devices.DevicesEvent;
import io.junction.devices.ModuleCalls;
import io.junction.devices.driver.Arguments;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;
import io.junction.devices.driver.MqttDriverType;
import io.junction.devices.model.ModelCommand.Bind;
import io.junction.devices.model.ModelCommand.CreateModule;
import io.junction.devices.model.ModelCommand.CreateSystem;
import io.junction.devices.model.ModelCommand.DefineDriver;
import io.junction.devices.model.ModelCommand.DeleteModule;
import io.junction.devices.model.ModelCommand.DeleteSystem;
import io.junction.devices.model.ModelCommand.DriverReplaced;
import io.junction.devices.model.ModelCommand.Reindex;
import io.junction.devices.model.ModelCommand.Rerouted;
import io.junction.devices.model.ModelCommand.SetRunning;
import io.junction.devices.model.ModelCommand.StartAll;
import io.junction.devices.model.ModelCommand.StopAll;
import io.junction.devices.model.ModelCommand.Unbind;
import io.junction.devices.model.ModelCommand.UpdateModule;
import io.junction.devices.model.ModelCommand.UpdateSystem;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live model of devices and rooms, as an actor ({@link ModelCommand}): modules (driver instances, each an actor of
 * its own) and systems (ordered lists of modules, found by name and 1-based index), kept in the state port; their
 * status variables and the systems' lookups behind the module status port, in PlaceOS' layout; indirect bindings; and
 * exec — resolve, check arguments against the metadata, check the caller's role, run on the module's actor with a
 * timeout.
 *
 * <p>Every change is one command, checked and applied in one turn and stored before it is answered. Reads and exec
 * never wait for the actor: they use the immutable snapshot it publishes after each change, so an exec goes from the
 * caller straight to the module (on the caller's thread when the module is idle).
 */
public final class DeviceModel implements ModuleCalls, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeviceModel.class);
    static final int MAILBOX = 4096;
    /** How long after a failed catch-up of the bindings (the status port's engine is away) the next one runs. */
    static final Duration BINDINGS_RETRY = Duration.ofSeconds(1);
    private static final Object BINDINGS_RETRY_TAG = new Object();

    /** What the actor publishes after each change; read without waiting by exec, the routes and the API. */
    private record View(Map<ModuleId, ModuleSpec> modules, Map<SystemId, SystemSpec> systems,
                        Map<SystemId, Map<ModuleRef, ModuleId>> index, Map<ModuleId, ModuleActor> running) {
    }

    /** An exec that has not answered by its deadline: fail it. */
    private record ExecTimeout(CompletableFuture<JsonNode> reply, String message) implements Request<JsonNode> {
    }

    private final DriverCatalog drivers;
    private final CommandSender commands;
    private final Clock clock;
    private final long execTimeoutMillis;
    private final StateStore stateStore;
    private final ModuleStatusStore status;
    private final ModelState state;
    private final Optional<EventHub> hub;
    private final Bindings bindings;
    private final Actor<ModelCommand> actor;
    /** The exec deadlines: an actor of their own, so a module or the model being busy never delays one. */
    private final Actor<ExecTimeout> timeouts;
    private final ModuleStatusStore.Subscription subscription;
    private final ModuleActor.Host host;
    private final Map<ModuleId, List<Consumer<String>>> debugListeners = new ConcurrentHashMap<>();
    private final List<Consumer<String>> stoppingListeners = new CopyOnWriteArrayList<>();
    /** Set when a module's followed keys changed and the routes are not rebuilt yet. */
    private final AtomicBoolean routesDirty = new AtomicBoolean();
    /** Set when bindings were marked stale (lookups changed elsewhere, a resync) and are not caught up yet. */
    private final AtomicBoolean bindingsDirty = new AtomicBoolean();
    private final Counter denied;
    private final Timer execTimer;
    private volatile View view = new View(Map.of(), Map.of(), Map.of(), Map.of());
    private volatile ModuleFeed feed;

    // --- the actor's own state
    private final Map<ModuleId, ModuleSpec> modules = new LinkedHashMap<>();
    private final Map<SystemId, SystemSpec> systems = new LinkedHashMap<>();
    private final Map<ModuleId, ModuleActor> running = new LinkedHashMap<>();

    private DeviceModel(Builder b) {
        this.drivers = b.drivers;
        this.commands = b.commands;
        this.clock = b.clock;
        this.execTimeoutMillis = b.execTimeoutMillis;
        this.stateStore = b.state;
        this.status = b.status;
        this.state = new ModelState(b.state);
        this.hub = Optional.ofNullable(b.hub);
        this.denied = Counter.builder("junction.devices.exec.denied").description("Function calls refused for the caller's role")
                .register(b.metrics);
        this.execTimer = Timer.builder("junction.devices.exec").description("Function calls on modules, from check to answer")
                .publishPercentiles(0.5, 0.99).register(b.metrics);
        this.host = new ModuleActor.Host() {
            @Override
            public ModuleStatusStore status() {
                return status;
            }

            @Override
            public CompletableFuture<Message> send(RoutingKey key, String body) {
                return commands.send(key, body);
            }

            @Override
            public void rerouted() {
                if (routesDirty.compareAndSet(false, true)) {
                    // If the mailbox refuses it, the flag stays set and the next command rebuilds the routes.
                    actor.tell(new Rerouted());
                }
            }

            @Override
            public void debug(ModuleId module, String line) {
                log.debug("module id={} {}", module, line);
                List<Consumer<String>> l = debugListeners.get(module);
                if (l != null) {
                    l.forEach(c -> c.accept(line));
                }
            }

            @Override
            public Clock clock() {
                return clock;
            }
        };
        load(b.dir);
        publish();
        this.actor = Actor.start("device-model", MAILBOX, clock, this::handle);
        this.timeouts = Actor.start("exec-timeouts", MAILBOX, clock,
                t -> t.reply().completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED, t.message())));
        this.bindings = new Bindings(status, this::unbind);
        // Called on the writer's thread (the embedded port) or on the port's one subscriber thread (Redis), which carries
        // every node's changes: nothing here may wait, so lookups and resyncs only mark and leave the work to the actor.
        this.subscription = status.listen(new ModuleStatusStore.Listener() {
            @Override
            public void statusChanged(ModuleId module, String name, Optional<String> json) {
                // Index reads and the clients' own bounded, non-blocking sends.
                bindings.statusChanged(module, name, json);
            }

            @Override
            public void lookupChanged(SystemId system) {
                // Only systems with bindings: a burst of changes becomes one catch-up, before the answer to a change of
                // the model's own (whose turn this is, when the port calls back at once).
                if (bindings.markStale(system)) {
                    bindingsStale();
                }
            }

            @Override
            public void resynced() {
                bindings.resynced();
                bindingsStale();
            }
        });
        Gauge.builder("junction.devices.modules.running", this, m -> m.view.running().size()).register(b.metrics);
        Gauge.builder("junction.devices.bindings", bindings, Bindings::size).register(b.metrics);
        systems.keySet().forEach(id -> status.replaceSystem(id, view.index().getOrDefault(id, Map.of())));
        drivers.onReplaced(type -> {
            // From the model's own DefineDriver, at once; from elsewhere (the plugin loader) as a command that is not dropped.
            if (actor.onActorThread()) {
                driverReplaced(type);
            } else {
                actor.send(new DriverReplaced(type));
            }
        });
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Reads what is stored: API-defined drivers into the catalog, modules and systems (importing old files once). */
    private void load(Path dir) {
        for (JsonNode definition : state.drivers()) {
            try {
                drivers.put(MqttDriverType.parse(definition, "api"));
            } catch (IllegalArgumentException e) {
                drivers.failed("api:" + definition.path("id").asText(), e.getMessage());
            }
        }
        if (dir != null) {
            state.importModelFile(dir);
            ModelState.importStatusFile(dir, status);
        }
        ModelState.Loaded loaded = state.load();
        loaded.modules().forEach(m -> modules.put(m.id(), m));
        loaded.systems().forEach(s -> systems.put(s.id(), s));
    }

    /**
     * Starts every module that was running, in the order they were created, then follows the raw stream from where
     * the modules got to (the end of the stream on a first start). A module whose driver is missing or fails to start
     * is logged and left with its error; the rest go on.
     */
    public void start(MessageStream raw) {
        StateOffsets offsets = StateOffsets.of(stateStore, raw.name(), ModuleFeed.FOLLOWER, raw.endOffset());
        long from = offsets.load();
        // Pin the starting point at once: a crash before the first commit must not skip what arrives meanwhile.
        offsets.commit(from);
        ModuleFeed f = new ModuleFeed(status, offsets);
        actor.<Void>ask(reply -> new StartAll(f, reply)).join();
        f.start(raw);
        View v = view;
        log.info("devices ready modules={} running={} systems={} from offset={}", v.modules().size(), v.running().size(),
                v.systems().size(), from);
    }

    // --- the actor

    private void handle(ModelCommand command) {
        try {
            switch (command) {
                case StartAll c -> {
                    feed = c.feed();
                    routesDirty.set(true);
                    for (ModuleSpec m : List.copyOf(modules.values())) {
                        if (m.running()) {
                            try {
                                startActor(m);
                            } catch (ExecException e) {
                                log.warn("module id={} did not start again: {}", m.id(), e.getMessage());
                            }
                        }
                    }
                    answer(c.reply(), null);
                }
                case StopAll c -> {
                    for (ModuleId id : List.copyOf(running.keySet())) {
                        stopActor(id);
                    }
                    answer(c.reply(), null);
                }
                case CreateModule c -> answer(c.reply(), newModule(c.draft()));
                case UpdateModule c -> answer(c.reply(), changeModule(c.id(), c.change()));
                case SetRunning c -> answer(c.reply(), setRunning(c.id(), c.running()));
                case DeleteModule c -> {
                    removeModule(c.id());
                    answer(c.reply(), null);
                }
                case CreateSystem c -> answer(c.reply(), newSystem(c.draft()));
                case UpdateSystem c -> answer(c.reply(), changeSystem(c.id(), c.change()));
                case DeleteSystem c -> {
                    removeSystem(c.id());
                    answer(c.reply(), null);
                }
                case DefineDriver c -> {
                    String id = c.type().metadata().id();
                    boolean replaced = drivers.get(id).isPresent();
                    state.putDriver(id, c.definition());
                    drivers.put(c.type());
                    answer(c.reply(), replaced);
                }
                case DriverReplaced c -> driverReplaced(c.type());
                case Rerouted c -> {
                    // the routes are rebuilt below
                }
                case Bind c -> {
                    if (!systems.containsKey(c.system())) {
                        throw noSystem(c.system());
                    }
                    c.reply().complete(bindings.bind(c.system(), c.ref(), c.status(), c.listener()));
                }
                case Unbind c -> bindings.remove(c.binding());
                case Reindex c -> {
                    // the bindings catch up below
                }
            }
        } finally {
            settle();
        }
    }

    /**
     * Completes a reply once the routes and bindings are current, so that a message the caller appends after the
     * answer reaches a module the command started, and a client bound to a system the command changed has heard it.
     */
    private <T> void answer(CompletableFuture<T> reply, T value) {
        settle();
        reply.complete(value);
    }

    /** Catches up the bindings marked stale and rebuilds the routes when they changed. On the actor. */
    private void settle() {
        if (bindingsDirty.get()) {
            catchUpBindings();
        }
        if (routesDirty.get()) {
            reroute();
        }
    }

    /** Re-resolves (and after a resync re-reads) the bindings marked stale. On the actor. */
    private void catchUpBindings() {
        bindingsDirty.set(false);
        try {
            bindings.catchUp();
            actor.cancel(BINDINGS_RETRY_TAG);
        } catch (RuntimeException e) {
            // Still marked in the bindings: the next turn, or this timer when none comes, tries again.
            bindingsDirty.set(true);
            if (!actor.scheduled(BINDINGS_RETRY_TAG)) {
                log.warn("devices bindings not caught up (retrying every {} ms): {}", BINDINGS_RETRY.toMillis(), e.toString());
            }
            actor.scheduleAfter(BINDINGS_RETRY, BINDINGS_RETRY_TAG, new Reindex());
        }
    }

    /**
     * Bindings were marked stale: a turn catches them up. From any thread, never waiting: when the mailbox refuses the
     * command, the flag stays set and the next turn catches up.
     */
    private void bindingsStale() {
        if (bindingsDirty.compareAndSet(false, true) && !actor.onActorThread()) {
            actor.tell(new Reindex());
        }
    }

    private ModuleSpec newModule(ModuleSpec.Draft d) {
        ModuleId id = d.id().orElseGet(() -> ModuleId.of("mod-" + UUID.randomUUID().toString().substring(0, 8)));
        if (modules.containsKey(id)) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "a module with id '" + id + "' already exists");
        }
        DriverType type = drivers.get(d.driver()).orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                "there is no driver '" + d.driver() + "' (GET /api/drivers lists them)"));
        String name = d.name().orElse(type.metadata().name());
        checkName(name);
        ModuleSpec spec = new ModuleSpec(id, name, d.driver(), d.device(), d.settings(), d.running());
        state.putModule(spec);
        modules.put(id, spec);
        publish();
        log.info("module created id={} name={} driver={}", spec.id(), spec.name(), spec.driver());
        if (spec.running()) {
            startActor(spec);
        }
        return spec;
    }

    private ModuleSpec changeModule(ModuleId id, ModuleSpec.Change c) {
        ModuleSpec old = requireModule(id);
        String name = c.name().orElse(old.name());
        checkName(name);
        if (c.driver().isPresent() && !c.driver().get().equals(old.driver())) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "a module's driver cannot change; create a new module instead");
        }
        ModuleSpec updated = new ModuleSpec(id, name, old.driver(), c.setsDevice() ? c.device() : old.device(),
                c.settings().orElse(old.settings()), old.running());
        state.putModule(updated);
        modules.put(id, updated);
        publish();
        if (running.containsKey(id)) {
            stopActor(id);
            startActor(updated);
        }
        relookup(systemsWith(id));
        return updated;
    }

    private ModuleSpec setRunning(ModuleId id, boolean run) {
        ModuleSpec spec = requireModule(id).withRunning(run);
        state.putModule(spec);
        modules.put(id, spec);
        publish();
        if (run && !running.containsKey(id)) {
            startActor(spec);
        } else if (!run) {
            stopActor(id);
        }
        return spec;
    }

    private void removeModule(ModuleId id) {
        requireModule(id);
        stopActor(id);
        List<SystemSpec> changed = new ArrayList<>();
        for (SystemSpec s : systems.values()) {
            if (s.modules().contains(id)) {
                List<ModuleId> rest = new ArrayList<>(s.modules());
                rest.remove(id);
                changed.add(new SystemSpec(s.id(), s.name(), rest));
            }
        }
        state.deleteModule(id, changed);
        modules.remove(id);
        changed.forEach(s -> systems.put(s.id(), s));
        publish();
        relookup(changed.stream().map(SystemSpec::id).toList());
        status.clear(id);
        status.deleteInterface(id);
        log.info("module deleted id={}", id);
    }

    private SystemSpec newSystem(SystemSpec.Draft d) {
        SystemId id = d.id().orElseGet(() -> SystemId.of("sys-" + UUID.randomUUID().toString().substring(0, 8)));
        if (systems.containsKey(id)) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "a system with id '" + id + "' already exists");
        }
        SystemSpec s = new SystemSpec(id, d.name(), checkModules(d.modules()));
        state.putSystem(s);
        systems.put(id, s);
        publish();
        relookup(List.of(id));
        return s;
    }

    private SystemSpec changeSystem(SystemId id, SystemSpec.Change c) {
        SystemSpec old = systems.get(id);
        if (old == null) {
            throw noSystem(id);
        }
        SystemSpec s = new SystemSpec(id, c.name().orElse(old.name()), c.modules().map(this::checkModules).orElse(old.modules()));
        state.putSystem(s);
        systems.put(id, s);
        publish();
        relookup(List.of(id));
        return s;
    }

    private void removeSystem(SystemId id) {
        if (!systems.containsKey(id)) {
            throw noSystem(id);
        }
        state.deleteSystem(id);
        systems.remove(id);
        publish();
        status.replaceSystem(id, Map.of());
    }

    /** Starts a module's actor and waits (at most the exec timeout) for its driver to start. */
    private void startActor(ModuleSpec spec) {
        DriverType type = drivers.get(spec.driver()).orElseThrow(() -> new ExecException(ExecException.Code.REQUEST_FAILED,
                "module " + spec.id() + " cannot start: its driver '" + spec.driver() + "' is not loaded"));
        if (running.containsKey(spec.id())) {
            return;
        }
        ModuleActor module = new ModuleActor(spec, type, host);
        running.put(spec.id(), module);
        routesDirty.set(true);
        publish();
        CompletableFuture<Void> started = module.start().whenComplete((v, e) -> {
            if (e == null) {
                status.setInterface(spec.id(), type.metadata().toJson().toString());
            }
            event(spec, e == null ? "started" : "failed", e == null ? type.source() : cause(e).getMessage());
        });
        try {
            started.get(execTimeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new ExecException(ExecException.Code.REQUEST_FAILED, "module " + spec.id() + " did not start within "
                    + execTimeoutMillis + " ms; it goes on starting");
        } catch (ExecutionException e) {
            throw asExec(cause(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExecException(ExecException.Code.REQUEST_FAILED, "module " + spec.id() + " start was interrupted");
        }
    }

    /** Stops a module's actor: jobs hear first (while it still answers), then it stops. */
    private void stopActor(ModuleId id) {
        ModuleActor module = running.get(id);
        if (module == null) {
            return;
        }
        for (Consumer<String> l : stoppingListeners) {
            try {
                l.accept(id.value());
            } catch (RuntimeException e) {
                log.warn("a stop listener failed for module {}: {}", id, e.toString());
            }
        }
        running.remove(id);
        routesDirty.set(true);
        publish();
        module.stop(Duration.ofMillis(execTimeoutMillis));
        event(module.spec(), "stopped", "");
    }

    private void driverReplaced(DriverType type) {
        for (ModuleActor a : running.values()) {
            if (a.spec().driver().equals(type.metadata().id())) {
                ModuleSpec spec = a.spec();
                a.swap(type).whenComplete((v, e) -> {
                    if (e != null) {
                        log.warn("module id={} did not restart on the new driver: {}", spec.id(), cause(e).getMessage());
                    } else {
                        status.setInterface(spec.id(), type.metadata().toJson().toString());
                    }
                    event(spec, e == null ? "restarted" : "failed", e == null ? type.source() : cause(e).getMessage());
                });
            }
        }
    }

    /** A client closed a binding: forget it in turn (at once when closed from the model's own turn). */
    private void unbind(Bindings.Binding binding) {
        if (actor.onActorThread()) {
            bindings.remove(binding);
        } else {
            actor.send(new Unbind(binding));
        }
    }

    private void reroute() {
        routesDirty.set(false);
        ModuleFeed f = feed;
        if (f != null) {
            f.routes(ModuleFeed.Routes.of(running.values()));
        }
    }

    /** Publishes the snapshot that reads and exec use. */
    private void publish() {
        Map<SystemId, Map<ModuleRef, ModuleId>> index = new HashMap<>();
        for (SystemSpec s : systems.values()) {
            index.put(s.id(), lookupOf(s));
        }
        view = new View(Collections.unmodifiableMap(new LinkedHashMap<>(modules)), Collections.unmodifiableMap(new LinkedHashMap<>(systems)),
                Map.copyOf(index), Map.copyOf(running));
    }

    /** The {@code Display_1} → module id lookup of a system, in the system's order. */
    private Map<ModuleRef, ModuleId> lookupOf(SystemSpec s) {
        Map<ModuleRef, ModuleId> lookup = new LinkedHashMap<>();
        Map<String, Integer> counts = new HashMap<>();
        for (ModuleId id : s.modules()) {
            ModuleSpec m = modules.get(id);
            if (m != null) {
                lookup.put(new ModuleRef(m.name(), counts.merge(m.name(), 1, Integer::sum)), id);
            }
        }
        return Collections.unmodifiableMap(lookup);
    }

    /**
     * Replaces the lookups of these systems in the status port, and re-resolves their bindings at once (whichever
     * thread the port calls its listeners on), so that what the turn does next — clearing a deleted module's status —
     * reaches them through their new modules.
     */
    private void relookup(List<SystemId> ids) {
        View v = view;
        for (SystemId id : ids) {
            status.replaceSystem(id, v.index().getOrDefault(id, Map.of()));
            bindings.markStale(id);
        }
        catchUpBindings();
    }

    private List<SystemId> systemsWith(ModuleId id) {
        return systems.values().stream().filter(s -> s.modules().contains(id)).map(SystemSpec::id).toList();
    }

    private ModuleSpec requireModule(ModuleId id) {
        ModuleSpec m = modules.get(id);
        if (m == null) {
            throw noModule(id.value());
        }
        return m;
    }

    private List<ModuleId> checkModules(List<ModuleId> ids) {
        for (ModuleId id : ids) {
            if (!modules.containsKey(id)) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: there is no module \"" + id
                        + "\" (create it first with POST /api/modules)");
            }
        }
        if (Set.copyOf(ids).size() != ids.size()) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "modules: a module may appear only once in a system");
        }
        return ids;
    }

    private static void checkName(String name) {
        if (!ModuleSpec.isValidName(name)) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "name '" + name + "' is not valid: expected " + ModuleSpec.NAME_RULE);
        }
    }

    private void event(ModuleSpec m, String event, String detail) {
        hub.ifPresent(h -> h.publish(new DevicesEvent("module", m.id().value(), m.driver(), m.id().value(), event,
                detail == null ? "" : detail)));
    }

    // --- changes: each one command, answered once stored and applied

    public CompletableFuture<ModuleSpec> createModule(ModuleSpec.Draft draft) {
        return actor.ask(reply -> new CreateModule(draft, reply));
    }

    public CompletableFuture<ModuleSpec> updateModule(ModuleId id, ModuleSpec.Change change) {
        return actor.ask(reply -> new UpdateModule(id, change, reply));
    }

    public CompletableFuture<ModuleSpec> startModule(ModuleId id) {
        return actor.ask(reply -> new SetRunning(id, true, reply));
    }

    public CompletableFuture<ModuleSpec> stopModule(ModuleId id) {
        return actor.ask(reply -> new SetRunning(id, false, reply));
    }

    /** Deletes a module: stops it, removes it from every system, forgets its status. */
    public CompletableFuture<Void> deleteModule(ModuleId id) {
        return actor.ask(reply -> new DeleteModule(id, reply));
    }

    public CompletableFuture<SystemSpec> createSystem(SystemSpec.Draft draft) {
        return actor.ask(reply -> new CreateSystem(draft, reply));
    }

    /** Renames a system or replaces its ordered module list; bindings follow the new order. */
    public CompletableFuture<SystemSpec> updateSystem(SystemId id, SystemSpec.Change change) {
        return actor.ask(reply -> new UpdateSystem(id, change, reply));
    }

    public CompletableFuture<Void> deleteSystem(SystemId id) {
        return actor.ask(reply -> new DeleteSystem(id, reply));
    }

    /**
     * Keeps a generic driver defined through the API (so it is there after a restart) and loads it; modules running
     * a driver it replaces restart on it. Answers whether it replaced one.
     */
    public CompletableFuture<Boolean> defineDriver(MqttDriverType type, JsonNode definition) {
        return actor.ask(reply -> new DefineDriver(type, definition.deepCopy(), reply));
    }

    /**
     * Binds to a status variable of the module at {@code ref} of a system; the listener hears the current value (JSON
     * text, {@code null} when none) before the answer, then every change, until the binding is closed.
     */
    public CompletableFuture<AutoCloseable> bind(SystemId system, ModuleRef ref, String statusName, Consumer<String> listener) {
        return actor.ask(reply -> new Bind(system, ref, statusName, listener, reply));
    }

    // --- reads, from the published snapshot

    public List<ModuleSpec> modules() {
        return List.copyOf(view.modules().values());
    }

    public Optional<ModuleSpec> module(ModuleId id) {
        return Optional.ofNullable(view.modules().get(id));
    }

    /** The module as the API shows it. */
    public ModuleView view(ModuleSpec m) {
        ModuleActor a = view.running().get(m.id());
        return new ModuleView(m, a != null, a == null ? Optional.empty() : Optional.of(a.type().source()),
                a == null || a.lastError().isEmpty() ? Optional.empty() : Optional.of(a.lastError()),
                a == null ? 0 : a.dropped(), status.all(m.id()));
    }

    /** A module's status variables (name → JSON text); fails with MODULE_NOT_FOUND. */
    public SortedMap<String, String> status(ModuleId id) {
        if (!view.modules().containsKey(id)) {
            throw noModule(id.value());
        }
        return status.all(id);
    }

    public List<SystemSpec> systems() {
        return List.copyOf(view.systems().values());
    }

    public Optional<SystemSpec> system(SystemId id) {
        return Optional.ofNullable(view.systems().get(id));
    }

    /** A system's {@code Display_1} → module id lookup, in the system's order. */
    public Map<ModuleRef, ModuleId> lookup(SystemId id) {
        return view.index().getOrDefault(id, Map.of());
    }

    /** The id of the module at {@code ref} in a system. */
    public Optional<ModuleId> resolve(SystemId system, ModuleRef ref) {
        return Optional.ofNullable(view.index().getOrDefault(system, Map.of()).get(ref));
    }

    /** Like {@link #resolve} but failing with SYSTEM_NOT_FOUND or MODULE_NOT_FOUND. */
    public ModuleId require(SystemId system, ModuleRef ref) {
        View v = view;
        Map<ModuleRef, ModuleId> lookup = v.index().get(system);
        if (lookup == null) {
            throw noSystem(system);
        }
        ModuleId id = lookup.get(ref);
        if (id == null) {
            throw new ExecException(ExecException.Code.MODULE_NOT_FOUND, "system " + system + " has no module " + ref);
        }
        return id;
    }

    /** Streams a module's debug lines to {@code listener} until the handle is closed. */
    public AutoCloseable debug(ModuleId module, Consumer<String> listener) {
        List<Consumer<String>> l = debugListeners.computeIfAbsent(module, k -> new CopyOnWriteArrayList<>());
        l.add(listener);
        return () -> l.remove(listener);
    }

    /** The driver type a running module runs (for its class name in debug frames). */
    public Optional<DriverType> runningType(ModuleId module) {
        return Optional.ofNullable(view.running().get(module)).map(ModuleActor::type);
    }

    // --- exec: from the caller straight to the module, never through the model's actor

    /** Calls a function on the module at {@code ref} of a system; see {@link #exec(Principal, ModuleId, String, JsonNode, boolean)}. */
    public CompletableFuture<JsonNode> exec(Principal caller, SystemId system, ModuleRef ref, String function, JsonNode args, boolean here) {
        try {
            return exec(caller, require(system, ref), function, args, here);
        } catch (ExecException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Calls {@code function} on a module as {@code caller}: arguments checked against the metadata, the caller's role
     * against its security, run on the module's actor with the exec timeout. With {@code here}, a caller that will wait
     * for the answer anyway (a WebSocket or REST request) runs the call on its own thread when the module is idle.
     * Fails with {@link ExecException}.
     */
    public CompletableFuture<JsonNode> exec(Principal caller, ModuleId id, String function, JsonNode args, boolean here) {
        long started = System.nanoTime();
        try {
            View v = view;
            ModuleActor module = v.running().get(id);
            if (module == null) {
                throw v.modules().containsKey(id)
                        ? new ExecException(ExecException.Code.REQUEST_FAILED, "module " + id + " is stopped; start it first")
                        : noModule(id.value());
            }
            DriverType type = module.type();
            FunctionSpec f = type.metadata().function(function).orElseThrow(() -> new ExecException(ExecException.Code.BAD_REQUEST,
                    "module " + id + " (driver " + type.metadata().id() + ") has no function '" + function + "'; it has "
                            + String.join(", ", type.metadata().functions().keySet())));
            List<JsonNode> checked = Arguments.check(id.value(), f, args);
            if (!caller.may(f.role())) {
                denied.increment();
                log.warn("exec denied user={} role={} module={} function={} reason=needs role {}",
                        caller.user(), caller.role().id(), id, function, f.role().id());
                throw new ExecException(ExecException.Code.ACCESS_DENIED, id + "." + function + " needs the role "
                        + f.role().id() + "; user '" + caller.user() + "' has " + caller.role().id());
            }
            CompletableFuture<JsonNode> reply = module.call(f, checked, here);
            if (!reply.isDone()) {
                // Only a call still running needs a deadline: one answered inline (the common case) costs no timer.
                timeouts.scheduleAfter(Duration.ofMillis(execTimeoutMillis), reply,
                        new ExecTimeout(reply, id + "." + function + " did not answer within " + execTimeoutMillis + " ms"));
                reply.whenComplete((r, e) -> timeouts.cancel(reply));
            }
            return reply.handle((r, e) -> {
                execTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                if (e == null) {
                    return r;
                }
                Throwable c = cause(e);
                if (c instanceof ActorException a) {
                    throw new ExecException(ExecException.Code.REQUEST_FAILED, a.kind() == ActorException.Kind.MAILBOX_FULL
                            ? "module " + id + " is busy: " + ModuleActor.MAILBOX + " requests are waiting; try again later"
                            : "module " + id + " stopped before the call ran");
                }
                throw asExec(c, id + "." + function);
            });
        } catch (ExecException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args) {
        if (!ModuleId.isValid(moduleId)) {
            return CompletableFuture.failedFuture(noModule(moduleId));
        }
        return exec(caller, ModuleId.of(moduleId), function, args, false);
    }

    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function, JsonNode args) {
        if (!SystemId.isValid(systemId)) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + systemId + "'"));
        }
        ModuleRef ref;
        try {
            ref = new ModuleRef(module, index);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.BAD_REQUEST, e.getMessage()));
        }
        return exec(caller, SystemId.of(systemId), ref, function, args, false);
    }

    @Override
    public Optional<String> driverOf(String moduleId) {
        if (!ModuleId.isValid(moduleId)) {
            return Optional.empty();
        }
        return module(ModuleId.of(moduleId)).map(ModuleSpec::driver);
    }

    @Override
    public void onStopping(Consumer<String> listener) {
        stoppingListeners.add(listener);
    }

    // --- helpers

    private static ExecException noModule(String id) {
        return new ExecException(ExecException.Code.MODULE_NOT_FOUND, "there is no module '" + id + "'");
    }

    private static ExecException noSystem(SystemId id) {
        return new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + id + "'");
    }

    private static ExecException asExec(Throwable c) {
        return c instanceof ExecException x ? x : new ExecException(ExecException.Code.UNEXPECTED_FAILURE, String.valueOf(c.getMessage()), c);
    }

    private static ExecException asExec(Throwable c, String call) {
        return c instanceof ExecException x ? x : new ExecException(ExecException.Code.UNEXPECTED_FAILURE, call + " failed: " + c, c);
    }

    private static Throwable cause(Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    /**
     * Stops following the raw stream, stops every module (jobs hear first and put devices in their neutral state),
     * then commits how far the modules got and writes their status.
     */
    @Override
    public void close() {
        if (actor.isClosed()) {
            return;
        }
        ModuleFeed f = feed;
        if (f != null) {
            f.close();
        }
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        actor.send(new StopAll(stopped));
        try {
            stopped.join();
        } catch (CompletionException e) {
            log.warn("devices did not stop cleanly: {}", cause(e).toString());
        }
        actor.close();
        timeouts.close();
        subscription.close();
        if (f != null) {
            f.commitAll();
        }
        status.flush();
    }

    /** What the model needs; all but {@code dir}, {@code clock}, {@code hub} and {@code execTimeoutMillis} are required. */
    public static final class Builder {
        private Path dir;
        private StateStore state;
        private ModuleStatusStore status;
        private DriverCatalog drivers;
        private CommandSender commands;
        private Clock clock = Clock.systemUTC();
        private MeterRegistry metrics;
        private long execTimeoutMillis = 5_000;
        private EventHub hub;

        private Builder() {
        }

        /** Where module starts, stops and restarts are published ({@code devices.module.*}). */
        public Builder hub(EventHub hub) {
            this.hub = hub;
            return this;
        }

        /** The devices folder, where {@code model.json} and {@code status.json} of earlier versions are imported from once. */
        public Builder dir(Path dir) {
            this.dir = dir;
            return this;
        }

        /** Where modules, systems and API-defined drivers are kept. */
        public Builder state(StateStore state) {
            this.state = state;
            return this;
        }

        /** Where module status variables, system lookups and module interfaces are kept. */
        public Builder status(ModuleStatusStore status) {
            this.status = status;
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

        /** Opens the model: loads what is stored (importing old files once); modules start with {@link #start}. */
        public DeviceModel open() {
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(status, "status");
            Objects.requireNonNull(drivers, "drivers");
            Objects.requireNonNull(commands, "commands");
            Objects.requireNonNull(metrics, "metrics");
            return new DeviceModel(this);
        }
    }
}
