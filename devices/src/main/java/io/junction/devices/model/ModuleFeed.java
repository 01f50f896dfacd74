package io.junction.devices.model;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Feeds the raw stream to the modules, at least once: the one follower of the devices ({@code devices}) reads from a
 * committed offset and hands each message to every module that wants it — a module bound to the message's device
 * (status messages), or one whose driver follows its key. A module's full mailbox makes the follower wait (and so
 * fall behind and catch up from the log); it never drops a message of a running module.
 *
 * <p>An offset is committed only once every module that was given a message below it has handled it, and only after
 * the module status those messages set is durable ({@link ModuleStatusStore#flush()}): after a crash the modules see
 * the messages since the last commit again, never fewer.
 */
final class ModuleFeed implements AutoCloseable {

    static final String FOLLOWER = "devices";
    static final int CAPACITY = 4096;

    /** Which module wants which message: replaced whole by the model's actor whenever modules start, stop or follow. */
    record Routes(Map<RoutingKey, List<ModuleActor>> exact, List<Map.Entry<RoutingPattern, ModuleActor>> patterns,
                  Map<String, List<ModuleActor>> byDevice) {

        static final Routes NONE = new Routes(Map.of(), List.of(), Map.of());

        /** The routes of these running modules: their followed keys and patterns, and their devices. */
        static Routes of(Collection<ModuleActor> running) {
            Map<RoutingKey, List<ModuleActor>> exact = new HashMap<>();
            List<Map.Entry<RoutingPattern, ModuleActor>> patterns = new ArrayList<>();
            Map<String, List<ModuleActor>> byDevice = new HashMap<>();
            for (ModuleActor a : running) {
                for (RoutingPattern p : a.followed()) {
                    if (p.isLiteral() && RoutingKey.isValid(p.value())) {
                        exact.computeIfAbsent(RoutingKey.of(p.value()), k -> new ArrayList<>()).add(a);
                    } else {
                        patterns.add(Map.entry(p, a));
                    }
                }
                a.spec().device().ifPresent(d -> byDevice.computeIfAbsent(d.value(), k -> new ArrayList<>()).add(a));
            }
            exact.replaceAll((k, v) -> List.copyOf(v));
            byDevice.replaceAll((k, v) -> List.copyOf(v));
            return new Routes(Map.copyOf(exact), List.copyOf(patterns), Map.copyOf(byDevice));
        }

        boolean wants(Message m) {
            if (exact.containsKey(m.key())) {
                return true;
            }
            if (!m.device().isEmpty() && Message.STATUS.equals(m.kind()) && byDevice.containsKey(m.device())) {
                return true;
            }
            for (Map.Entry<RoutingPattern, ModuleActor> e : patterns) {
                if (e.getKey().matches(m.key())) {
                    return true;
                }
            }
            return false;
        }

        /** Every module that wants {@code m}, each once. */
        List<ModuleActor> targets(Message m) {
            List<ModuleActor> out = new ArrayList<>(2);
            List<ModuleActor> l = exact.get(m.key());
            if (l != null) {
                addAll(out, l);
            }
            if (!m.device().isEmpty() && Message.STATUS.equals(m.kind())) {
                l = byDevice.get(m.device());
                if (l != null) {
                    addAll(out, l);
                }
            }
            for (Map.Entry<RoutingPattern, ModuleActor> e : patterns) {
                if (e.getKey().matches(m.key()) && !out.contains(e.getValue())) {
                    out.add(e.getValue());
                }
            }
            return out;
        }

        private static void addAll(List<ModuleActor> out, List<ModuleActor> more) {
            for (ModuleActor a : more) {
                if (!out.contains(a)) {
                    out.add(a);
                }
            }
        }
    }

    /**
     * A batch handed to modules: its first offset, each module's "handled" answer, and whether a message of it could
     * not be handed over because the follower was being closed (then it is never done: the next start reads it again).
     */
    private record Pending(long first, List<CompletableFuture<Void>> handled, boolean cut) {
        boolean done() {
            if (cut) {
                return false;
            }
            for (CompletableFuture<Void> f : handled) {
                if (!f.isDone()) {
                    return false;
                }
            }
            return true;
        }
    }

    private final ModuleStatusStore status;
    private final CommittedOffset offsets;
    private volatile Routes routes = Routes.NONE;
    /** Batches not yet handled by every module; only the follower's thread (and close, after it) touches it. */
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private long committed = -1;
    private StreamFollower follower;
    private volatile boolean closing;

    ModuleFeed(ModuleStatusStore status, CommittedOffset offsets) {
        this.status = status;
        this.offsets = offsets;
    }

    /** Replaces the routes (the model's actor, after modules started, stopped or followed keys). */
    void routes(Routes routes) {
        this.routes = routes;
    }

    /** Starts following {@code raw} from the committed offset. */
    void start(MessageStream raw) {
        CommittedOffset held = new CommittedOffset() {
            @Override
            public long load() {
                return offsets.load();
            }

            @Override
            public void commit(long next) throws Exception {
                commitHandled(next);
            }
        };
        follower = StreamFollower.atLeastOnce(raw, FOLLOWER, held, m -> routes.wants(m), CAPACITY, this::handle);
    }

    /** The next offset the follower will look at (for tests and metrics). */
    long position() {
        return follower == null ? -1 : follower.position();
    }

    private void handle(List<StreamEntry> batch) {
        Routes r = routes;
        Map<ModuleActor, Boolean> touched = new IdentityHashMap<>();
        boolean cut = false;
        for (StreamEntry e : batch) {
            for (ModuleActor a : r.targets(e.message())) {
                // Refused only by a module that stopped (its messages no longer matter) or when closing interrupts us.
                cut |= !a.deliver(e.message()) && closing;
                touched.put(a, Boolean.TRUE);
            }
        }
        if (touched.isEmpty()) {
            return;
        }
        List<CompletableFuture<Void>> handled = new ArrayList<>(touched.size());
        for (ModuleActor a : touched.keySet()) {
            CompletableFuture<Void> synced = a.synced();
            cut |= synced.isCompletedExceptionally() && closing;
            handled.add(synced);
        }
        pending.add(new Pending(batch.get(0).offset(), handled, cut));
    }

    /**
     * Commits {@code next}, or the first offset of the oldest batch some module has not handled yet, after making the
     * module status durable. A module that closed counts as having handled what it was given.
     */
    private void commitHandled(long next) throws Exception {
        while (!pending.isEmpty() && pending.peek().done()) {
            pending.poll();
        }
        long safe = pending.isEmpty() ? next : Math.min(next, pending.peek().first());
        if (safe <= committed) {
            return;
        }
        status.flush();
        offsets.commit(safe);
        committed = safe;
    }

    /**
     * Stops following (the follower commits what was handled so far). Call {@link #commitAll()} once the modules are
     * stopped to commit what they handled meanwhile.
     */
    @Override
    public void close() {
        closing = true;
        if (follower != null) {
            follower.close();
        }
    }

    /** After {@link #close()} and the modules stopped: commits the follower's position if every batch was handled. */
    void commitAll() {
        if (follower == null) {
            return;
        }
        try {
            commitHandled(follower.position());
        } catch (Exception e) {
            org.slf4j.LoggerFactory.getLogger(ModuleFeed.class).warn("devices follower cannot commit offset={}: {}",
                    follower.position(), e.toString());
        }
    }
}
