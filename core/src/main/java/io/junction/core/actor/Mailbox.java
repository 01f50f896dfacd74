package io.junction.core.actor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounded mailbox of an actor, with the loop that serves it on its own virtual thread. Senders block when the
 * mailbox is full ({@link #send}): that is the back-pressure of the durable paths. There is no unbounded queue.
 *
 * <p>An actor is a final class that owns a {@code Mailbox<C>} of its sealed command type, whose public methods only
 * {@link #send} commands, and whose private {@code handle(C)} switches over them. A command's failure is that
 * command's: the handler's exception is logged and the loop goes on.
 */
public final class Mailbox<C> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Mailbox.class);

    private final String name;
    private final ArrayBlockingQueue<C> queue;
    private volatile boolean closed;
    private Thread thread;

    public Mailbox(String name, int capacity) {
        this.name = name;
        this.queue = new ArrayBlockingQueue<>(capacity);
    }

    /** Starts serving the mailbox with {@code handler} on a virtual thread named after the actor. */
    public Mailbox<C> start(Consumer<C> handler) {
        thread = Thread.ofVirtual().name(name).start(() -> loop(handler));
        return this;
    }

    private void loop(Consumer<C> handler) {
        while (!closed || !queue.isEmpty()) {
            C command;
            try {
                command = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                if (closed) {
                    break;
                }
                continue;
            }
            if (command == null) {
                continue;
            }
            try {
                handler.accept(command);
            } catch (RuntimeException e) {
                log.warn("actor={} command={} failed: {}", name, command.getClass().getSimpleName(), e.toString(), e);
            }
        }
    }

    /** Enqueues a command, waiting while the mailbox is full. */
    public void send(C command) {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        try {
            queue.put(command);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(name + ": interrupted while waiting for room in the mailbox", e);
        }
    }

    /** Enqueues a command if there is room; false when the mailbox is full or closed. */
    public boolean offer(C command) {
        return !closed && queue.offer(command);
    }

    public int size() {
        return queue.size();
    }

    public String name() {
        return name;
    }

    /** Stops taking commands, lets the loop finish what is queued (for at most {@code timeoutMillis}), and returns what was left. */
    public List<C> close(long timeoutMillis) {
        closed = true;
        if (thread != null) {
            try {
                thread.join(timeoutMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                thread.interrupt();
            }
        }
        List<C> left = new ArrayList<>();
        queue.drainTo(left);
        return left;
    }

    @Override
    public void close() {
        close(2_000);
    }
}
