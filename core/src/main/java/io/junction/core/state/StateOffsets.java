package io.junction.core.state;

import io.junction.core.stream.CommittedOffset;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A follower's committed offset kept in the state port, under {@code offsets/<stream>/<follower>} as
 * {@code {"next": 123}}; {@code fallback} is where it starts when nothing was committed yet.
 */
public record StateOffsets(StateStore state, String key, long fallback) implements CommittedOffset {

    static final String COLLECTION = "offsets";
    private static final Pattern NEXT = Pattern.compile("\"next\"\\s*:\\s*(\\d+)");

    public StateOffsets {
        StateStore.check(COLLECTION, key);
    }

    /** The offset of follower {@code follower} of stream {@code stream}; {@code fallback} when none was committed. */
    public static StateOffsets of(StateStore state, String stream, String follower, long fallback) {
        return new StateOffsets(state, stream + "/" + follower, fallback);
    }

    @Override
    public long load() {
        return state.get(COLLECTION, key).map(r -> {
            Matcher m = NEXT.matcher(r.json());
            return m.find() ? Long.parseLong(m.group(1)) : fallback;
        }).orElse(fallback);
    }

    @Override
    public void commit(long next) {
        state.put(COLLECTION, key, "{\"next\":" + next + "}");
    }
}
