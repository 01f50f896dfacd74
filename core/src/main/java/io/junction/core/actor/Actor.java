package io.junction.core.actor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The one actor runtime: a bounded mailbox of commands of one (sealed) type, served one at a time by a loop on a
 * virtual thread, with timers on the injected {@link Clock}. Kafka's {@code KafkaEventQueue} is the model.
 *
 * <p>An actor is a final class that owns an {@code Actor<XCommand>}, whose public methods only enqueue commands
 * ({@link #tell}, {@link #send}, {@link #ask}), and whose private handler switches over the sealed type. Guarantees:
 * <ul>
 *   <li>Commands are handled one at a time, in the order they were enqueued; the handler never runs on two threads
 *       at once, so the actor's state needs no locks.</li>
 *   <li>No caller waits forever: a {@link Request}'s reply is completed exceptionally when its handler throws, when
 *       the mailbox refuses it ({@link ActorException.Kind#MAILBOX_FULL}) and when the actor closes before handling
 *       it ({@link ActorException.Kind#CLOSED}). A failing command never stops the loop.</li>
 *   <li>Timers are commands: {@link #schedule} delivers a command at a deadline of the clock, replacing an earlier
 *       one with the same tag; {@link #cancel} forgets it. A due timer is handled like any command, never refused.</li>
 *   <li>Nothing grows without bound: the mailbox has a fixed capacity.</li>
 * </ul>
 */
public final class Actor<C> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Actor.class);
    private static final Object WAKE = new Object();

    /** Handles one command on the actor's thread. An exception fails that command's reply (if it has one). */
    @FunctionalInterface
    public interface Handler<C> {
        void handle(C command) throws Exception;
    }

    private final String name;
    private final Clock clock;
    private final Handler<C> handler;
    private final long tickMillis;
    private final ArrayBlockingQueue<Object> mailbox;
    /** Held while a command is handled: by the loop, or by a caller running an idle actor's command inline. */
    private final ReentrantLock turn = new ReentrantLock();
    /** Commands enqueued and not yet handled: an inline run is allowed only when it is zero, to keep order. */
    private final AtomicInteger pending = new AtomicInteger();
    /** Guards the timers (never held while a handler runs, so a busy handler does not block scheduling). */
    private final ReentrantLock timerLock = new ReentrantLock();
    private final PriorityQueue<Timer<C>> timers = new PriorityQueue<>();
    private final Map<Object, Timer<C>> timersByTag = new HashMap<>();
    private long timerSeq;
    private final Thread thread;
    private volatile boolean closed;
    /** Set when a close's drain time ran out: the loop handles nothing more. */
    private volatile boolean halted;

    private record Timer<C>(long deadline, long seq, Object tag, C command) implements Comparable<Timer<C>> {
        @Override
        public int compareTo(Timer<C> o) {
            return deadline != o.deadline ? Long.compare(deadline, o.deadline) : Long.compare(seq, o.seq);
        }
    }

    private Actor(String name, int capacity, Clock clock, Duration tick, Handler<C> handler) {
        if (capacity < 1) {
            throw new IllegalArgumentException("actor " + name + ": the mailbox capacity must be at least 1");
        }
        this.name = Objects.requireNonNull(name, "name");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.handler = Objects.requireNonNull(handler, "handler");
        this.tickMillis = Math.max(1, tick.toMillis());
        this.mailbox = new ArrayBlockingQueue<>(capacity);
        this.thread = Thread.ofVirtual().name(name).unstarted(this::loop);
    }

    /**
     * Starts an actor named {@code name} (its thread's name and every log line's) with a mailbox of
     * {@code capacity} commands, timers on {@code clock}, and {@code handler} for each command.
     */
    public static <C> Actor<C> start(String name, int capacity, Clock clock, Handler<C> handler) {
        return start(name, capacity, clock, Duration.ofMillis(100), handler);
    }

    /**
     * As {@link #start(String, int, Clock, Handler)}; while a timer is set the loop looks at the clock at least every
     * {@code tick}, so a clock moved by hand (tests) fires timers without a real wait that long.
     */
    public static <C> Actor<C> start(String name, int capacity, Clock clock, Duration tick, Handler<C> handler) {
        Actor<C> actor = new Actor<>(name, capacity, clock, tick, handler);
        actor.thread.start();
        return actor;
    }

    public String name() {
        return name;
    }

    public Clock clock() {
        return clock;
    }

    /**
     * Enqueues a command if there is room. When there is not, or the actor is closed, a {@link Request}'s reply is
     * failed with an {@link ActorException} and false is returned; nothing waits.
     */
    public boolean tell(C command) {
        Objects.requireNonNull(command, "command");
        if (closed) {
            refuse(command, ActorException.Kind.CLOSED);
            return false;
        }
        pending.incrementAndGet();
        if (!mailbox.offer(command)) {
            pending.decrementAndGet();
            refuse(command, ActorException.Kind.MAILBOX_FULL);
            return false;
        }
        if (closed) {
            failLeftovers();
        }
        return true;
    }

    /**
     * Enqueues a command, waiting while the mailbox is full: the back-pressure of durable paths, for callers that may
     * block (never a network event loop). A closed actor fails a {@link Request}'s reply and returns false.
     */
    public boolean send(C command) {
        Objects.requireNonNull(command, "command");
        if (closed) {
            refuse(command, ActorException.Kind.CLOSED);
            return false;
        }
        pending.incrementAndGet();
        try {
            while (!mailbox.offer(command, 100, TimeUnit.MILLISECONDS)) {
                if (closed) {
                    pending.decrementAndGet();
                    refuse(command, ActorException.Kind.CLOSED);
                    return false;
                }
            }
        } catch (InterruptedException e) {
            pending.decrementAndGet();
            Thread.currentThread().interrupt();
            refuse(command, ActorException.Kind.CLOSED);
            return false;
        }
        if (closed) {
            failLeftovers();
        }
        return true;
    }

    /**
     * Builds a request around a new reply, {@link #tell}s it and returns the reply:
     * {@code return actor.ask(reply -> new Get(id, reply));}.
     */
    public <R> CompletableFuture<R> ask(Function<CompletableFuture<R>, ? extends C> request) {
        CompletableFuture<R> reply = new CompletableFuture<>();
        tell(request.apply(reply));
        return reply;
    }

    /**
     * Handles the command on the calling thread when the actor is idle (nothing queued, nothing running), which saves
     * two thread hand-offs on a latency-sensitive path; otherwise enqueues it as {@link #tell} does. Order and
     * one-at-a-time hold either way. Returns false when the command was refused.
     */
    public boolean runNowOrTell(C command) {
        Objects.requireNonNull(command, "command");
        if (!closed && Thread.currentThread() != thread && pending.get() == 0 && turn.tryLock()) {
            try {
                if (pending.get() == 0 && !closed) {
                    dispatch(command);
                    return true;
                }
            } finally {
                turn.unlock();
            }
        }
        return tell(command);
    }

    /**
     * Delivers {@code command} to the handler once the clock reaches {@code deadline}, replacing a timer with the
     * same tag. A deadline in the past fires at once (in turn).
     */
    public void schedule(Instant deadline, Object tag, C command) {
        Objects.requireNonNull(tag, "tag");
        Objects.requireNonNull(command, "command");
        timerLock.lock();
        try {
            Timer<C> t = new Timer<>(deadline.toEpochMilli(), timerSeq++, tag, command);
            // A replaced timer stays in the heap, stale, until it comes up or the heap is compacted: O(log n) here.
            timersByTag.put(tag, t);
            timers.add(t);
            compactIfStale();
        } finally {
            timerLock.unlock();
        }
        if (Thread.currentThread() != thread) {
            mailbox.offer(WAKE);
        }
    }

    /** As {@link #schedule}, {@code delay} from now on the actor's clock. */
    public void scheduleAfter(Duration delay, Object tag, C command) {
        schedule(clock.instant().plus(delay), tag, command);
    }

    /** Forgets the timer with this tag; returns whether there was one. */
    public boolean cancel(Object tag) {
        timerLock.lock();
        try {
            if (timersByTag.remove(tag) == null) {
                return false;
            }
            compactIfStale();
            return true;
        } finally {
            timerLock.unlock();
        }
    }

    /** Whether a timer with this tag is set. */
    public boolean scheduled(Object tag) {
        timerLock.lock();
        try {
            return timersByTag.containsKey(tag);
        } finally {
            timerLock.unlock();
        }
    }

    /** Commands waiting in the mailbox (not counting the one being handled). */
    public int size() {
        return mailbox.size();
    }

    /** Whether the caller is the actor's own loop (for assertions in handlers' helpers). */
    public boolean onActorThread() {
        return Thread.currentThread() == thread;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Closes, letting the loop handle what is queued for at most two seconds. */
    @Override
    public void close() {
        close(Duration.ofSeconds(2));
    }

    /**
     * Stops taking commands, lets the loop handle what is already queued for at most {@code drain}, then fails the
     * replies of what is left and of every pending timer with {@link ActorException.Kind#CLOSED}. Idempotent; from
     * the actor's own handler it only marks the actor closed (the loop ends after the current command).
     */
    public void close(Duration drain) {
        closed = true;
        mailbox.offer(WAKE);
        if (Thread.currentThread() == thread) {
            return;
        }
        try {
            if (!thread.join(drain.isNegative() ? Duration.ZERO : drain)) {
                halted = true;
                thread.interrupt();
                thread.join(Duration.ofSeconds(1));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failLeftovers();
        List<Timer<C>> left;
        timerLock.lock();
        try {
            left = new ArrayList<>(timersByTag.values());
            timers.clear();
            timersByTag.clear();
        } finally {
            timerLock.unlock();
        }
        for (Timer<C> t : left) {
            refuse(t.command, ActorException.Kind.CLOSED);
        }
    }

    // ---- the loop ----

    private void loop() {
        while (true) {
            Object next;
            try {
                long wait = nextWaitMillis();
                next = wait < 0 ? mailbox.take() : mailbox.poll(wait, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
                continue;
            }
            if (next != null && next != WAKE) {
                @SuppressWarnings("unchecked")
                C command = (C) next;
                if (halted) {
                    pending.decrementAndGet();
                    refuse(command, ActorException.Kind.CLOSED);
                    continue;
                }
                turn.lock();
                try {
                    dispatch(command);
                } finally {
                    pending.decrementAndGet();
                    turn.unlock();
                }
            }
            fireDueTimers();
            if (halted || closed && mailbox.isEmpty()) {
                return;
            }
        }
    }

    /** How long the loop may wait for a command: -1 for as long as it takes (no timer set). */
    private long nextWaitMillis() {
        timerLock.lock();
        try {
            if (closed) {
                return mailbox.isEmpty() ? 0 : -1;
            }
            Timer<C> first = liveHead();
            if (first == null) {
                return -1;
            }
            return Math.max(0, Math.min(tickMillis, first.deadline - clock.millis()));
        } finally {
            timerLock.unlock();
        }
    }

    private void fireDueTimers() {
        while (true) {
            Timer<C> due;
            timerLock.lock();
            try {
                due = liveHead();
                if (due == null || due.deadline > clock.millis() || closed) {
                    return;
                }
                timers.poll();
                timersByTag.remove(due.tag, due);
            } finally {
                timerLock.unlock();
            }
            turn.lock();
            try {
                dispatch(due.command);
            } finally {
                turn.unlock();
            }
        }
    }

    /** The earliest timer that was neither replaced nor cancelled, dropping stale ones on the way; timerLock held. */
    private Timer<C> liveHead() {
        Timer<C> head;
        while ((head = timers.peek()) != null && timersByTag.get(head.tag) != head) {
            timers.poll();
        }
        return head;
    }

    /** Rebuilds the heap when stale timers outnumber live ones, so re-arming forever does not grow it; timerLock held. */
    private void compactIfStale() {
        if (timers.size() > 64 && timers.size() > 2 * timersByTag.size()) {
            timers.clear();
            timers.addAll(timersByTag.values());
        }
    }

    private void dispatch(C command) {
        try {
            handler.handle(command);
        } catch (Exception | StackOverflowError e) {
            if (command instanceof Request<?> r && r.reply().completeExceptionally(e)) {
                log.debug("actor={} command={} failed: {}", name, command.getClass().getSimpleName(), e.toString());
            } else {
                log.warn("actor={} command={} failed: {}", name, command.getClass().getSimpleName(), e.toString(), e);
            }
        }
    }

    private void refuse(C command, ActorException.Kind kind) {
        if (command instanceof Request<?> r) {
            String why = kind == ActorException.Kind.CLOSED ? "is closed" : "is overloaded (its mailbox is full); try again later";
            r.reply().completeExceptionally(new ActorException(kind, name + " " + why + " (" + command.getClass().getSimpleName() + ")"));
        } else if (kind == ActorException.Kind.MAILBOX_FULL) {
            log.debug("actor={} refused command={}: mailbox full", name, command.getClass().getSimpleName());
        }
    }

    /** Fails what is still queued once the loop has ended (or a command raced in after close). */
    private void failLeftovers() {
        if (thread.isAlive() && Thread.currentThread() != thread && thread.getState() != Thread.State.NEW) {
            return;
        }
        List<Object> left = new ArrayList<>();
        mailbox.drainTo(left);
        for (Object o : left) {
            if (o != WAKE) {
                pending.decrementAndGet();
                @SuppressWarnings("unchecked")
                C command = (C) o;
                refuse(command, ActorException.Kind.CLOSED);
            }
        }
    }
}
