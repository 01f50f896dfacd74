package io.junction.store.log;

/**
 * Every few kilobytes of a segment, one entry: a record's offset, its file position, and the highest message time
 * of all records before it in the segment. One thread adds entries; any number read them: an entry is written
 * before the count that makes it visible, and a grown array is published whole.
 */
final class SparseIndex {

    /** Where a reader starts scanning. */
    record Start(long offset, long position) {
    }

    private static final class Entries {
        final long[] offsets;
        final long[] positions;
        final long[] maxTsBefore;

        Entries(int capacity) {
            offsets = new long[capacity];
            positions = new long[capacity];
            maxTsBefore = new long[capacity];
        }

        Entries grow(int count) {
            Entries bigger = new Entries(offsets.length * 2);
            System.arraycopy(offsets, 0, bigger.offsets, 0, count);
            System.arraycopy(positions, 0, bigger.positions, 0, count);
            System.arraycopy(maxTsBefore, 0, bigger.maxTsBefore, 0, count);
            return bigger;
        }
    }

    private volatile Entries entries = new Entries(64);
    private volatile int count;

    /** Adds an entry; offsets and positions grow, and so does {@code maxTsBefore}. Single writer. */
    void add(long offset, long position, long maxTsBefore) {
        int c = count;
        Entries e = entries;
        if (c == e.offsets.length) {
            e = e.grow(c);
            entries = e;
        }
        e.offsets[c] = offset;
        e.positions[c] = position;
        e.maxTsBefore[c] = maxTsBefore;
        count = c + 1;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** The last entry at or before {@code offset}, or the first entry when there is none. */
    Start floor(long offset) {
        int c = count;
        Entries e = entries;
        return lastWhere(e, c, mid -> e.offsets[mid] <= offset);
    }

    /**
     * The last entry before which every record of the segment is older than {@code epochMillis}: the first record at
     * or after that time cannot come before it.
     */
    Start lastOlderThan(long epochMillis) {
        int c = count;
        Entries e = entries;
        return lastWhere(e, c, mid -> e.maxTsBefore[mid] < epochMillis);
    }

    /**
     * The last of the first {@code count} entries of {@code e} for which {@code holds} is true, by binary search (it
     * holds for a prefix of them), or the first entry when it holds for none. The caller reads {@code count} before
     * {@code e}, so that every entry counted is in that array.
     */
    private static Start lastWhere(Entries e, int count, java.util.function.IntPredicate holds) {
        int lo = 0;
        int hi = count - 1;
        int found = 0;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (holds.test(mid)) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return new Start(e.offsets[found], e.positions[found]);
    }
}
