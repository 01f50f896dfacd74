package io.junction.devices.jobs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The deferred events of the jobs actor: at most one per job (the time its next step is due), kept in one heap, so
 * ten thousand waiting jobs cost ten thousand small entries and no thread each. Scheduling a job again replaces its
 * entry (as Kafka's deferred events with a tag do). Used only on the actor's thread.
 */
final class Timers {

    private record Entry(long due, long seq, String job) {
    }

    private final PriorityQueue<Entry> heap = new PriorityQueue<>((a, b) -> a.due != b.due
            ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
    /** The live entry of each job; heap entries not here are stale and dropped when they come up. */
    private final Map<String, Entry> live = new HashMap<>();
    private long seq;

    /** {@code job} is to be woken at {@code due} (epoch ms), instead of when it was to be before. */
    void schedule(String job, long due) {
        Entry e = new Entry(due, seq++, job);
        live.put(job, e);
        heap.add(e);
        if (heap.size() > 2 * live.size() + 1_024) {
            heap.clear();
            heap.addAll(live.values());
        }
    }

    void cancel(String job) {
        live.remove(job);
    }

    /** When the earliest job is due; {@link Long#MAX_VALUE} when none is. */
    long nextDue() {
        dropStale();
        Entry e = heap.peek();
        return e == null ? Long.MAX_VALUE : e.due;
    }

    /** The jobs due at {@code now}, earliest first; they are no longer scheduled. */
    List<String> takeDue(long now) {
        List<String> due = new ArrayList<>();
        while (true) {
            dropStale();
            Entry e = heap.peek();
            if (e == null || e.due > now) {
                return due;
            }
            heap.poll();
            live.remove(e.job);
            due.add(e.job);
        }
    }

    int size() {
        return live.size();
    }

    private void dropStale() {
        Entry e;
        while ((e = heap.peek()) != null && live.get(e.job) != e) {
            heap.poll();
        }
    }
}
