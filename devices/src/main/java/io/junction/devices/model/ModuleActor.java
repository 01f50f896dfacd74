package io.junction.devices.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverContext;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.LongAdder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running module: its driver instance, called one command at a time, so a function call, a device message and a
 * code swap never overlap. Commands go through a bounded mailbox to the actor's virtual thread: a call into a full
 * mailbox fails at once, a device message into a full one is dropped and counted. A caller that is going to wait for
 * the answer anyway (a WebSocket or REST exec) may run its call on its own thread when the actor is idle — nothing
 * queued, nothing running — which saves two thread hand-offs; the turn lock keeps it one command at a time, and the
 * pending count keeps commands of one caller in order.
 */
final class ModuleActor implements DriverContext {

    private static final Logger log = LoggerFactory.getLogger(ModuleActor.class);
    static final int MAILBOX = 4096;

    /** What the actor is asked to do. */
    private sealed interface Command permits Call, Deliver, Swap, Stop {
    }

    /** Run a checked function; complete {@code result} with its JSON answer. */
    private record Call(FunctionSpec function, List<JsonNode> args, CompletableFuture<JsonNode> result) implements Command {
    }

    /** A message from the device or a followed key. */
    private record Deliver(Message message) implements Command {
    }

    /** Stop the current instance and start one of {@code type} (new code, or the same driver restarted). */
    private record Swap(DriverType type, CompletableFuture<Void> done) implements Command {
    }

    /** Stop the instance and end the loop. */
    private record Stop(CompletableFuture<Void> done) implements Command {
    }

    /** What the actor needs of the model: status, following keys, commands, debug listeners. */
    interface Host {
        StatusTable status();

        void follow(ModuleActor actor, RoutingPattern pattern);

        void unfollowAll(ModuleActor actor);

        CompletableFuture<Message> send(RoutingKey key, String body);

        void debug(String moduleId, String line);

        Clock clock();
    }

    private final ModuleSpec spec;
    private final Host host;
    private final ArrayBlockingQueue<Command> mailbox = new ArrayBlockingQueue<>(MAILBOX);
    /** Commands queued or running; 0 means idle. */
    private final java.util.concurrent.atomic.AtomicInteger pending = new java.util.concurrent.atomic.AtomicInteger();
    /** Held while a command runs, on the actor's thread or a caller's. */
    private final java.util.concurrent.locks.ReentrantLock turn = new java.util.concurrent.locks.ReentrantLock();
    private volatile boolean stopped;
    private final LongAdder dropped = new LongAdder();
    private volatile DriverType type;
    private volatile String lastError = "";
    private Driver driver;
    private final Thread thread;

    ModuleActor(ModuleSpec spec, DriverType type, Host host) {
        this.spec = spec;
        this.type = type;
        this.host = host;
        this.thread = Thread.ofVirtual().name("module-" + spec.id()).unstarted(this::loop);
    }

    /** Starts the loop; the driver's {@code start} runs first, and its failure completes the future exceptionally. */
    CompletableFuture<Void> start() {
        CompletableFuture<Void> started = new CompletableFuture<>();
        pending.incrementAndGet();
        mailbox.add(new Swap(type, started));
        thread.start();
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

    /** Runs the call on this thread when the actor is idle, else queues it; either way one command at a time. */
    CompletableFuture<JsonNode> callHere(FunctionSpec function, List<JsonNode> args) {
        if (!pending.compareAndSet(0, 1)) {
            return call(function, args);
        }
        CompletableFuture<JsonNode> result = new CompletableFuture<>();
        turn.lock();
        try {
            if (stopped) {
                result.completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED, "module " + spec.id() + " is stopped"));
            } else {
                run(new Call(function, args, result));
            }
        } finally {
            turn.unlock();
            pending.decrementAndGet();
        }
        return result;
    }

    CompletableFuture<JsonNode> call(FunctionSpec function, List<JsonNode> args) {
        CompletableFuture<JsonNode> result = new CompletableFuture<>();
        if (!offer(new Call(function, args, result))) {
            result.completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED,
                    "module " + spec.id() + " is busy: " + MAILBOX + " requests are waiting; try again later"));
        }
        return result;
    }

    private boolean offer(Command c) {
        pending.incrementAndGet();
        if (mailbox.offer(c)) {
            return true;
        }
        pending.decrementAndGet();
        return false;
    }

    private void put(Command c) throws InterruptedException {
        pending.incrementAndGet();
        try {
            mailbox.put(c);
        } catch (InterruptedException e) {
            pending.decrementAndGet();
            throw e;
        }
    }

    void deliver(Message message) {
        if (!offer(new Deliver(message))) {
            dropped.increment();
        }
    }

    /** Restarts on {@code newType} after the work already queued (which finishes on the old code). */
    CompletableFuture<Void> swap(DriverType newType) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            put(new Swap(newType, done));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(e);
        }
        return done;
    }

    CompletableFuture<Void> stop() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            put(new Stop(done));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(e);
        }
        return done;
    }

    private void loop() {
        while (true) {
            Command c;
            try {
                c = mailbox.take();
            } catch (InterruptedException e) {
                stopDriver();
                return;
            }
            turn.lock();
            try {
                switch (c) {
                    case Call call -> run(call);
                    case Deliver d -> receive(d.message());
                    case Swap s -> {
                        stopDriver();
                        startDriver(s.type(), s.done());
                    }
                    case Stop s -> {
                        stopped = true;
                        stopDriver();
                        failRemaining();
                        s.done().complete(null);
                        return;
                    }
                }
            } finally {
                turn.unlock();
                pending.decrementAndGet();
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
        host.unfollowAll(this);
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
            call.result().completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED,
                    "module " + spec.id() + " is not running its driver" + (lastError.isEmpty() ? "" : " (" + lastError + ")")));
            return;
        }
        FunctionSpec current = type.metadata().function(call.function().name()).orElse(null);
        if (current == null) {
            call.result().completeExceptionally(new ExecException(ExecException.Code.BAD_REQUEST,
                    "module " + spec.id() + " has no function " + call.function().name() + " since its driver was replaced"));
            return;
        }
        try {
            Object result = type.call(driver, current, call.args());
            if (result instanceof CompletionStage<?> stage) {
                stage.whenComplete((v, e) -> {
                    if (e != null) {
                        call.result().completeExceptionally(failure(call, e));
                    } else {
                        call.result().complete(toJson(v));
                    }
                });
            } else {
                call.result().complete(toJson(result));
            }
        } catch (Throwable t) {
            call.result().completeExceptionally(failure(call, t));
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
            return;
        }
        try {
            driver.received(m);
        } catch (Throwable t) {
            lastError = "message " + m.key().value() + " failed: " + describe(t);
            log.debug("module id={} failed on message key={}: {}", spec.id(), m.key().value(), describe(t));
        }
    }

    private void failRemaining() {
        List<Command> left = new ArrayList<>();
        mailbox.drainTo(left);
        for (Command c : left) {
            switch (c) {
                case Call call -> call.result().completeExceptionally(new ExecException(ExecException.Code.REQUEST_FAILED,
                        "module " + spec.id() + " stopped before the call ran"));
                case Swap s -> s.done().complete(null);
                case Stop s -> s.done().complete(null);
                case Deliver d -> { }
            }
        }
    }

    private static String describe(Throwable t) {
        if (t instanceof java.lang.reflect.InvocationTargetException && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    // --- DriverContext, used by the driver on this actor's thread

    @Override
    public String moduleId() {
        return spec.id();
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
        return spec.device();
    }

    @Override
    public void status(String name, Object value) {
        host.status().set(spec.id(), name, toJson(value));
    }

    @Override
    public Optional<JsonNode> status(String name) {
        return host.status().get(spec.id(), name);
    }

    @Override
    public void follow(RoutingPattern pattern) {
        host.follow(this, pattern);
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
