package io.junction.devices.model;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.status.ModuleStatusStore;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Feeds the raw stream to the modules, at least once: the one follower of the devices ({@code devices}) reads from a
 * committed offset and hands each message to every module that wants it — a module bound to the message's device
 * (status messages), or one whose driver follows its key. A module's full mailbox makes the follower wait (and so
 * fall behind and catch up from the log); it never drops a message of a running module.
 *
 * <p>A batch is done only once every module it was handed to has handled it. When the module status port failed on
 * one of its messages (its engine is away) the handler throws, and the follower hands the same batch over again after
 * a back-off until it goes through: a module may see a message twice, but no status it sets is lost. An offset is
 * committed only past done batches and only after the module status they set is durable
 * ({@link ModuleStatusStore#flush()}): after a crash the modules see the messages since the last commit again, never
 * fewer.
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

    private final ModuleStatusStore status;
    private final CommittedOffset offsets;
    private volatile Routes routes = Routes.NONE;
    /** The last offset committed; the follower's thread, then close's. */
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

    /**
     * Hands a batch to every module that wants its messages and waits until they handled it. Throws, so that the
     * follower hands the batch over again, when a module could not write its status, or when closing cut a delivery
     * off (the next start reads the batch again). A module that stopped meanwhile counts as having handled it.
     */
    private void handle(List<StreamEntry> batch) throws Exception {
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
        List<CompletableFuture<Void>> handled = new ArrayList<>(touched.size());
        for (ModuleActor a : touched.keySet()) {
            handled.add(a.synced());
        }
        ModuleActor.StatusNotWritten unwritten = null;
        for (CompletableFuture<Void> f : handled) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ModuleActor.StatusNotWritten s) {
                    if (unwritten == null) {
                        unwritten = s;
                    } else {
                        unwritten.addSuppressed(s);
                    }
                } else {
                    // The module closed: it no longer needs the batch, unless the whole feed is closing.
                    cut |= closing;
                }
            }
        }
        if (unwritten != null) {
            throw unwritten;
        }
        if (cut) {
            throw new IllegalStateException("the devices follower is closing: the batch at offset " + batch.get(0).offset()
                    + " did not reach every module; it is read again on the next start");
        }
    }

    /** Commits {@code next} (every batch below it was handled) once the module status they set is durable. */
    private void commitHandled(long next) throws Exception {
        if (next <= committed) {
            return;
        }
        status.flush();
        offsets.commit(next);
        committed = next;
    }

    /**
     * Stops following (the follower commits what was handled so far). Call {@link #commitAll()} once the modules are
     * stopped, in case that last commit failed.
     */
    @Override
    public void close() {
        closing = true;
        if (follower != null) {
            follower.close();
        }
    }

    /** After {@link #close()} and the modules stopped: commits the follower's position (past done batches only). */
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
