package io.junction.core.actor;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded queue for live paths (WebSocket clients, hub subscribers): when the consumer falls behind, the oldest
 * item is dropped to make room for the newest, and every drop is counted. Producers never block.
 */
public final class LatestQueue<T> {

    private final int capacity;
    private final ArrayDeque<T> items;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final LongAdder dropped = new LongAdder();
    private long droppedSinceTake;
    private boolean closed;

    public LatestQueue(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
        this.items = new ArrayDeque<>(Math.min(capacity, 1024));
    }

    /** Adds an item, dropping the oldest when full. Returns false when the queue is closed. */
    public boolean push(T item) {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            if (items.size() >= capacity) {
                items.pollFirst();
                dropped.increment();
                droppedSinceTake++;
            }
            items.addLast(item);
            notEmpty.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code timeoutMillis} for items and moves up to {@code max} of them into {@code into}. Returns how
     * many were dropped since the previous call (so the consumer can tell its client), or -1 when closed and empty.
     */
    public long drainTo(java.util.Collection<? super T> into, int max, long timeoutMillis) throws InterruptedException {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
            while (items.isEmpty()) {
                if (closed) {
                    return -1;
                }
                if (nanos <= 0) {
                    break;
                }
                nanos = notEmpty.awaitNanos(nanos);
            }
            for (int i = 0; i < max && !items.isEmpty(); i++) {
                into.add(items.pollFirst());
            }
            long d = droppedSinceTake;
            droppedSinceTake = 0;
            return d;
        } finally {
            lock.unlock();
        }
    }

    /** Every item dropped since the queue was made. */
    public long dropped() {
        return dropped.sum();
    }

    public int size() {
        lock.lock();
        try {
            return items.size();
        } finally {
            lock.unlock();
        }
    }

    public void close() {
        lock.lock();
        try {
            closed = true;
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
