package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.devices.ModuleCalls;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.ExecException;
import io.junction.devices.driver.FunctionSpec;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The module runtime as jobs see it, recording every call (who, which module, which function, what arguments, and
 * when by the test's clock). It checks the caller's role against the driver's metadata as the real one does. The
 * module runtime is not part of jobs, so this is the one place a stand-in is right.
 */
final class FakeModules implements ModuleCalls {

    /** One call as the module received it. */
    record Call(Principal caller, String module, String function, JsonNode args, Instant at) {
        boolean is(String function, String arg, Object value) {
            return this.function.equals(function) && args.path(arg).toString().equals(Json.MAPPER.valueToTree(value).toString());
        }
    }

    private final Clock clock;
    private final DriverCatalog drivers;
    private final Map<String, String> modules = new ConcurrentHashMap<>();
    private final List<Consumer<String>> stopping = new CopyOnWriteArrayList<>();
    private final List<Call> calls = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    /** How a call is answered; by default {@code {"ok": true}} at once. */
    volatile Function<Call, CompletableFuture<JsonNode>> answer = c -> CompletableFuture.completedFuture(Json.object().put("ok", true));

    FakeModules(Clock clock, DriverCatalog drivers) {
        this.clock = clock;
        this.drivers = drivers;
    }

    void add(String module, String driver) {
        modules.put(module, driver);
    }

    /** Stops a module as the runtime does: the listeners hear of it first, while it still answers calls. */
    void stop(String module) {
        for (Consumer<String> l : stopping) {
            l.accept(module);
        }
        modules.remove(module);
    }

    /** Every call so far, in the order they came. */
    List<Call> all() {
        synchronized (calls) {
            return List.copyOf(calls);
        }
    }

    List<Call> calls(Predicate<Call> which) {
        return all().stream().filter(which).toList();
    }

    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String moduleId, String function, JsonNode args) {
        Call c = new Call(caller, moduleId, function, args.deepCopy(), clock.instant());
        String driver = modules.get(moduleId);
        if (driver == null) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.MODULE_NOT_FOUND, "there is no module '" + moduleId + "'"));
        }
        FunctionSpec f = drivers.get(driver).orElseThrow().metadata().function(function).orElse(null);
        if (f == null) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.BAD_REQUEST, "no function " + function));
        }
        if (!caller.may(f.role())) {
            return CompletableFuture.failedFuture(new ExecException(ExecException.Code.ACCESS_DENIED, function + " needs " + f.role().id()));
        }
        calls.add(c);
        return answer.apply(c);
    }

    @Override
    public Optional<String> driverOf(String moduleId) {
        return Optional.ofNullable(modules.get(moduleId));
    }

    @Override
    public void onStopping(Consumer<String> listener) {
        stopping.add(listener);
    }

    /** Jobs call modules by id only. */
    @Override
    public CompletableFuture<JsonNode> exec(Principal caller, String systemId, String module, int index, String function, JsonNode args) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("jobs call modules by id"));
    }
}
