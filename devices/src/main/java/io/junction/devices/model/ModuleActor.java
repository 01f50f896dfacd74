package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.actor.Actor;
import io.junction.core.device.DeviceUid;
import io.junction.core.device.ModuleId;
import io.junction.core.status.ModuleStatusStore;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverContext;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;
import io.junction.devices.model.ModuleCommand.Call;
import io.junction.devices.model.ModuleCommand.Deliver;
import io.junction.devices.model.ModuleCommand.Stop;
import io.junction.devices.model.ModuleCommand.Swap;
import io.junction.devices.model.ModuleCommand.Synced;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running module: an actor ({@link ModuleCommand}) that owns its driver instance, so a function call, a device
 * message and a code swap never overlap. A call into a full mailbox is refused at once; the raw follower waits for room
 * instead (a device message is never dropped while the module runs). A caller that will wait for the answer anyway (a
 * WebSocket or REST exec) runs its call on its own thread when the module is idle ({@link Actor#runNowOrTell}).
 *
 * <p>When the status port fails while the driver handles a device message — an {@link IllegalStateException}: the
 * engine behind it is away or refuses — the module skips the device messages after it and fails the next
 * {@link #synced()} with {@link StatusNotWritten}: the feed then hands the whole batch over again, so no status is lost
 * and none is written out of order. Other failures (a driver's bad argument) are the driver's own, never retried.
 */
final class ModuleActor implements DriverContext {

    private static final Logger log = LoggerFactory.getLogger(ModuleActor.class);
    static final int MAILBOX = 4096;

    /** What the module needs of the model: the status port, egress, its debug listeners, and news of what it follows. */
    interface Host {
        ModuleStatusStore status();

        CompletableFuture<Message> send(RoutingKey key, String body);

        /** The module's followed keys changed: the raw routes must be rebuilt. */
        void rerouted();

        void debug(ModuleId module, String line);

        Clock clock();
    }

    private final ModuleSpec spec;
    private final Host host;
    private final Actor<ModuleCommand> actor;
    /** Device messages that reached the module once it was stopping, so no driver saw them. */
    private final LongAdder dropped = new LongAdder();
    private volatile DriverType type;
    private volatile String lastError = "";
    /** What the driver follows; written on the module's turn, read by the model when it rebuilds the routes. */
    private volatile List<RoutingPattern> followed = List.of();
    /** The driver instance; touched only on the module's turn. */
    private Driver driver;
    private boolean stopped;
    /** Whether the driver is handling a device message now; the module's turn only. */
    private boolean receiving;
    /** The status port's failure while handling a device message since the last sync; the module's turn only. */
    private IllegalStateException unwritten;

    /**
     * A device message was not fully handled because the module status port failed (its engine is away); the messages
     * since the last sync must be handed over again.
     */
    static final class StatusNotWritten extends RuntimeException {
        StatusNotWritten(ModuleId module, IllegalStateException cause) {
            super("module " + module + " could not write its status: " + cause.getMessage(), cause);
        }
    }

    ModuleActor(ModuleSpec spec, DriverType type, Host host) {
        this.spec = spec;
        this.type = type;
        this.host = host;
        this.actor = Actor.start("module-" + spec.id(), MAILBOX, host.clock(), this::handle);
    }

    /** Starts the driver; its failure completes the future exceptionally (and leaves the module running without it). */
    CompletableFuture<Void> start() {
        CompletableFuture<Void> started = new CompletableFuture<>();
        actor.tell(new Swap(type, started));
        return started;
    }

    ModuleSpec spec() {
        return spec;
    }

    DriverType type() {
        return type;
    }

    String lastError() {
        return lastError;
    }

    long dropped() {
        return dropped.sum();
    }

    List<RoutingPattern> followed() {
        return followed;
    }

    /**
     * Calls a checked function: inline on this thread when {@code here} and the module is idle, else through the
     * mailbox. A refusal (full mailbox, module stopped) fails the answer with an {@code ActorException}.
     */
    CompletableFuture<JsonNode> call(FunctionSpec function, List<JsonNode> args, boolean here) {
        Call call = new Call(function, args, new CompletableFuture<>());
        if (here) {
            actor.runNowOrTell(call);
        } else {
            actor.tell(call);
        }
        return call.reply();
    }

    /**
     * Hands over a raw-stream message, waiting while the mailbox is full (never drops while the module runs); false
     * (and counted) when the module is closed or the caller was interrupted.
     */
    boolean deliver(Message message) {
        if (!actor.send(new Deliver(message))) {
            dropped.increment();
            return false;
        }
        return true;
    }

    /**
     * Completes once every message delivered so far was handled (or the module closed: an {@code ActorException}); fails
     * with {@link StatusNotWritten} when the status port failed on one of them since the last sync.
     */
    CompletableFuture<Void> synced() {
        Synced s = new Synced(new CompletableFuture<>());
        actor.send(s);
        return s.reply();
    }

    /**
     * Restarts on {@code newType} after the work already queued (which finishes on the old code); refused when the
     * mailbox is full, so the caller (the model) never waits on a busy module.
     */
    CompletableFuture<Void> swap(DriverType newType) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.tell(new Swap(newType, done));
        return done;
    }

    /**
     * Stops the driver (waiting at most {@code wait} for the work queued before), then closes the actor. A module
     * whose mailbox is full or whose driver hangs is closed all the same: what is left is refused and counted.
     */
    void stop(Duration wait) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.tell(new Stop(done));
        try {
            done.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("module id={} did not stop in {} ms: {}", spec.id(), wait.toMillis(), e.toString());
        }
        actor.close();
    }

    private void handle(ModuleCommand command) {
        switch (command) {
            case Call c -> run(c);
            case Deliver d -> receive(d.message());
            case Synced s -> {
                IllegalStateException failed = unwritten;
                unwritten = null;
                if (failed == null) {
                    s.reply().complete(null);
                } else {
                    s.reply().completeExceptionally(new StatusNotWritten(spec.id(), failed));
                }
            }
            case Swap s -> {
                if (stopped) {
                    s.reply().complete(null);
                    return;
                }
                stopDriver();
                startDriver(s.type(), s.reply());
            }
            case Stop s -> {
                stopped = true;
                stopDriver();
                s.reply().complete(null);
            }
        }
    }

    private void startDriver(DriverType newType, CompletableFuture<Void> done) {
        type = newType;
        try {
            driver = newType.create();
            driver.start(this);
            lastError = "";
            log.info("module started id={} driver={} source={}", spec.id(), newType.metadata().id(), newType.source());
            done.complete(null);
        } catch (Throwable t) {
            lastError = "start failed: " + describe(t);
            log.warn("module id={} driver={} failed to start: {}", spec.id(), newType.metadata().id(), describe(t), t);
            driver = null;
            done.completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED,
                    "module " + spec.id() + " failed to start: " + describe(t), t));
        }
    }

    private void stopDriver() {
        if (!followed.isEmpty()) {
            followed = List.of();
            host.rerouted();
        }
        if (driver == null) {
            return;
        }
        try {
            driver.stop();
        } catch (Throwable t) {
            log.warn("module id={} stop failed: {}", spec.id(), describe(t));
        }
        driver = null;
    }

    private void run(Call call) {
        if (driver == null) {
            call.reply().completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED, stopped
                    ? "module " + spec.id() + " stopped before the call ran"
                    : "module " + spec.id() + " is not running its driver" + (lastError.isEmpty() ? "" : " (" + lastError + ")")));
            return;
        }
        FunctionSpec current = type.metadata().function(call.function().name()).orElse(null);
        if (current == null) {
            call.reply().completeExceptionally(new ExecException(ExecException.Code.BAD_REQUEST,
                    "module " + spec.id() + " has no function " + call.function().name() + " since its driver was replaced"));
            return;
        }
        try {
            Object result = type.call(driver, current, call.args());
            if (result instanceof CompletionStage<?> stage) {
                stage.whenComplete((v, e) -> {
                    if (e != null) {
                        call.reply().completeExceptionally(failure(call, e));
                    } else {
                        call.reply().complete(toJson(v));
                    }
                });
            } else {
                call.reply().complete(toJson(result));
            }
        } catch (Throwable t) {
            call.reply().completeExceptionally(failure(call, t));
        }
    }

    private ExecException failure(Call call, Throwable t) {
        while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof ExecException e) {
            return e;
        }
        log.debug("module id={} function={} failed: {}", spec.id(), call.function().name(), describe(t));
        return new ExecException(ExecException.Code.REQUEST_FAILED,
                spec.id() + "." + call.function().name() + " failed: " + describe(t), t);
    }

    private static JsonNode toJson(Object v) {
        if (v == null) {
            return NullNode.getInstance();
        }
        if (v instanceof JsonNode n) {
            return n;
        }
        return Json.MAPPER.valueToTree(v);
    }

    private void receive(Message m) {
        if (driver == null) {
            if (stopped) {
                dropped.increment();
            }
            return;
        }
        if (unwritten != null) {
            // Handed over again after the next sync fails: handling it now could write status out of order.
            return;
        }
        receiving = true;
        try {
            driver.received(m);
        } catch (Throwable t) {
            lastError = "message " + m.key().value() + " failed: " + describe(t);
            log.debug("module id={} failed on message key={}: {}", spec.id(), m.key().value(), describe(t));
        } finally {
            receiving = false;
        }
    }

    /** Notes the status port's failure while handling a device message (whether or not the driver lets it through). */
    private IllegalStateException statusFailed(IllegalStateException e) {
        if (receiving && unwritten == null) {
            unwritten = e;
        }
        return e;
    }

    private static String describe(Throwable t) {
        if (t instanceof java.lang.reflect.InvocationTargetException && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    // --- DriverContext, used by the driver on this module's turn

    @Override
    public String moduleId() {
        return spec.id().value();
    }

    @Override
    public String moduleName() {
        return spec.name();
    }

    @Override
    public ObjectNode settings() {
        return spec.settings().deepCopy();
    }

    @Override
    public Optional<String> device() {
        return spec.device().map(DeviceUid::value);
    }

    @Override
    public void status(String name, Object value) {
        String json = toJson(value).toString();
        try {
            host.status().set(spec.id(), name, json);
        } catch (IllegalStateException e) {
            throw statusFailed(e);
        }
    }

    @Override
    public Optional<JsonNode> status(String name) {
        Optional<String> stored;
        try {
            stored = host.status().get(spec.id(), name);
        } catch (IllegalStateException e) {
            throw statusFailed(e);
        }
        return stored.map(json -> {
            try {
                return Json.parse(json);
            } catch (IOException e) {
                throw new UncheckedIOException("status " + name + " of module " + spec.id() + " is not JSON", e);
            }
        });
    }

    @Override
    public void follow(RoutingPattern pattern) {
        List<RoutingPattern> more = new ArrayList<>(followed);
        more.add(pattern);
        followed = List.copyOf(more);
        host.rerouted();
    }

    @Override
    public CompletableFuture<Message> send(RoutingKey key, JsonNode body) {
        return host.send(key, body.toString());
    }

    @Override
    public void log(String line) {
        host.debug(spec.id(), line);
    }

    @Override
    public Clock clock() {
        return host.clock();
    }
}
