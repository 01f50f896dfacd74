package io.junction.scaleout.redis;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.CommittedOffset;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFollower;
import io.junction.scaleout.EngineHealth;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The status port on Redis: the last message of every routing key (the spine's status), shared by every node.
 * Hash {@value #LAST} holds routing key → the message as compact JSON ({@code {"id","ts","topic","key","device",
 * "kind","body"}}, the body embedded as it is); string {@value #NEXT_OFFSET} holds the raw-stream offset after the last
 * entry recorded. Both change together in one Lua script that ignores entries below the stored offset, so an
 * at-least-once follower (on any number of nodes) may hand the same entries again. {@link #updateAll} records a whole
 * batch in one round trip; {@link #follow} keeps the store current with the raw stream.
 *
 * <p>When Redis goes away a call throws {@link IllegalStateException} after one retry (the follower then hands the
 * same batch again after a back-off, so nothing is skipped), the engine is reported down within about two seconds and
 * up again when it answers.
 */
public final class RedisStatusStore implements StatusStore {

    private static final Logger log = LoggerFactory.getLogger(RedisStatusStore.class);

    static final String LAST = "junction/last";
    static final String NEXT_OFFSET = "junction/last-offset";
    /** Live entries the status follower keeps in memory before it reads from the log instead. */
    private static final int FOLLOW_CAPACITY = 4096;
    /** Entries per script call: a bound on one command's size. */
    private static final int CHUNK = 1024;
    private static final Duration STALL = Duration.ofSeconds(30);

    /**
     * KEYS[1] hash, KEYS[2] next offset; ARGV offset, key, json triples in offset order. Records those at or above the
     * stored offset and returns the new next offset.
     */
    private static final String UPDATE = """
            local next = tonumber(redis.call('GET', KEYS[2]) or '0')
            local start = next
            for i = 1, #ARGV, 3 do
              local offset = tonumber(ARGV[i])
              if offset >= next then
                redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
                next = offset + 1
              end
            end
            if next ~= start then redis.call('SET', KEYS[2], string.format('%d', next)) end
            return next""";
    /** KEYS[1] hash, KEYS[2] next offset; ARGV the offset to start again from. */
    private static final String RESET = """
            redis.call('DEL', KEYS[1])
            redis.call('SET', KEYS[2], ARGV[1])
            return 1""";

    private final RedisLink link;
    private final LongAdder malformed = new LongAdder();
    /** Signalled whenever an update returned, for {@link #follow} waiting to have caught up. */
    private final ReentrantLock progressLock = new ReentrantLock();
    private final Condition advanced = progressLock.newCondition();
    private volatile long knownNext;

    private RedisStatusStore(RedisLink link) {
        this.link = link;
    }

    /**
     * Opens the status kept in the Redis at {@code url} ({@code redis://[user:password@]host:port[/db]}), reporting
     * the engine's health to {@code health}. Throws {@link IllegalStateException} ({@code redis at host:port does not
     * answer: ...}) when it does not answer PING within two seconds, and {@link IllegalArgumentException} for a bad url.
     */
    public static RedisStatusStore open(String url, EngineHealth health) {
        Objects.requireNonNull(health, "health");
        RedisStatusStore store = new RedisStatusStore(RedisLink.open(url, health, "junction-status"));
        log.info("status on redis at={} db={} nextOffset={}", store.link.address(), store.link.endpoint.database(),
                store.nextOffset());
        return store;
    }

    @Override
    public void update(StreamEntry entry) {
        updateAll(List.of(entry));
    }

    /**
     * Records a batch of raw-stream entries in offset order, in one round trip per {@value #CHUNK} keys: only the last
     * entry of each key is sent, and entries below the stored offset are ignored, as {@link #update} would one by one.
     */
    public void updateAll(List<StreamEntry> batch) {
        if (batch.isEmpty()) {
            return;
        }
        // The last entry of each key, in the order of those last entries (so offsets still rise).
        Map<RoutingKey, StreamEntry> last = new LinkedHashMap<>();
        long seen = Long.MIN_VALUE;
        for (StreamEntry e : batch) {
            if (e.offset() <= seen) {
                continue; // handed twice within the batch: the first one counts, as one-by-one updates would have it
            }
            seen = e.offset();
            last.remove(e.message().key());
            last.put(e.message().key(), e);
        }
        List<StreamEntry> entries = new ArrayList<>(last.values());
        long next = 0;
        for (int from = 0; from < entries.size(); from += CHUNK) {
            List<StreamEntry> chunk = entries.subList(from, Math.min(entries.size(), from + CHUNK));
            List<String> args = new ArrayList<>(chunk.size() * 3);
            for (StreamEntry e : chunk) {
                args.add(Long.toString(e.offset()));
                args.add(e.message().key().value());
                args.add(Json.messageToJson(e.message(), -1));
            }
            Object reply = link.call("update of " + LAST, r -> r.eval(UPDATE, List.of(LAST, NEXT_OFFSET), args));
            next = reply instanceof Long l ? l : next;
        }
        advance(next);
    }

    @Override
    public Optional<Message> get(RoutingKey key) {
        String json = link.call("read of " + LAST, r -> r.hget(LAST, key.value()));
        return json == null ? Optional.empty() : decode(key.value(), json);
    }

    @Override
    public List<Message> find(RoutingPattern pattern) {
        if (pattern.isLiteral()) {
            return RoutingKey.isValid(pattern.value()) ? get(RoutingKey.of(pattern.value())).stream().toList() : List.of();
        }
        ScanParams params = new ScanParams().count(1000);
        prefix(pattern).ifPresent(p -> params.match(glob(p) + "*"));
        List<Message> found = new ArrayList<>();
        String cursor = ScanParams.SCAN_POINTER_START;
        do {
            String from = cursor;
            ScanResult<Map.Entry<String, String>> page = link.call("scan of " + LAST, r -> r.hscan(LAST, from, params));
            for (Map.Entry<String, String> e : page.getResult()) {
                if (RoutingKey.isValid(e.getKey()) && pattern.matches(RoutingKey.of(e.getKey()))) {
                    decode(e.getKey(), e.getValue()).ifPresent(found::add);
                }
            }
            cursor = page.getCursor();
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        // HSCAN may return a field twice while the hash grows: keep one per key.
        found.sort((a, b) -> a.key().compareTo(b.key()));
        List<Message> unique = new ArrayList<>(found.size());
        for (Message m : found) {
            if (unique.isEmpty() || !unique.getLast().key().equals(m.key())) {
                unique.add(m);
            }
        }
        return unique;
    }

    @Override
    public long nextOffset() {
        String next = link.call("read of " + NEXT_OFFSET, r -> r.get(NEXT_OFFSET));
        if (next == null) {
            return 0;
        }
        try {
            return Long.parseLong(next);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("redis at " + link.address() + ": " + NEXT_OFFSET + " holds '" + next
                    + "', not an offset; delete it (and " + LAST + ") to rebuild the status from the raw stream", e);
        }
    }

    /**
     * Keeps the status current with {@code raw}: follows it at least once from {@link #nextOffset()}, handing each
     * batch to {@link #updateAll}, and returns once the status has caught up with the end the stream had when this was
     * called (or made no progress for 30 s). When the stream ends before {@link #nextOffset()} (a different or reset
     * stream), the status is first rebuilt from the start of the stream. Closing the follower stops following.
     */
    public StreamFollower follow(MessageStream raw) {
        long target = raw.endOffset();
        long next = nextOffset();
        if (next > target) {
            log.warn("status on redis covers up to offset {} but stream '{}' ends at {}: rebuilding the status from offset {}",
                    next, raw.name(), target, raw.startOffset());
            link.call("reset of " + LAST, r -> r.eval(RESET, List.of(LAST, NEXT_OFFSET), List.of(Long.toString(raw.startOffset()))));
            next = raw.startOffset();
        }
        advance(next);
        StreamFollower follower = StreamFollower.atLeastOnce(raw, "status", CommittedOffset.startAt(next), m -> true,
                FOLLOW_CAPACITY, this::updateAll);
        try {
            awaitOffset(raw, target);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("status on redis: interrupted while catching up with stream '{}' (at offset {} of {}); it goes on in the background",
                    raw.name(), knownNext, target);
        }
        return follower;
    }

    /** Entries skipped because what {@value #LAST} held under a key was not a message (each logged). */
    public long malformedEntries() {
        return malformed.sum();
    }

    @Override
    public void close() {
        link.close();
    }

    private void advance(long next) {
        progressLock.lock();
        try {
            if (next > knownNext) {
                knownNext = next;
            }
            advanced.signalAll();
        } finally {
            progressLock.unlock();
        }
    }

    /** Waits until the status reaches {@code target}, or until it made no progress for {@link #STALL}. */
    private void awaitOffset(MessageStream raw, long target) throws InterruptedException {
        progressLock.lock();
        try {
            while (knownNext < target) {
                long before = knownNext;
                if (!advanced.await(STALL.toMillis(), TimeUnit.MILLISECONDS) && knownNext == before) {
                    log.warn("status on redis: no progress catching up with stream '{}' for {} s (at offset {} of {}); "
                            + "going on while it catches up in the background", raw.name(), STALL.toSeconds(), before, target);
                    return;
                }
            }
        } finally {
            progressLock.unlock();
        }
    }

    /** The literal words before the first wildcard, joined: every key the pattern matches starts with them. */
    static Optional<String> prefix(RoutingPattern pattern) {
        List<String> words = new ArrayList<>();
        for (String w : pattern.value().split("\\.", -1)) {
            if (w.equals("*") || w.equals("#")) {
                break;
            }
            words.add(w);
        }
        return words.isEmpty() ? Optional.empty() : Optional.of(String.join(".", words));
    }

    /** {@code text} with Redis' glob characters escaped. */
    static String glob(String text) {
        StringBuilder b = new StringBuilder(text.length() + 4);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    /** Reads a stored message back, its body exactly as it was stored; empty (logged, counted) when it is not one. */
    private Optional<Message> decode(String key, String json) {
        try {
            return Optional.of(decodeMessage(json));
        } catch (IOException | RuntimeException e) {
            malformed.increment();
            log.warn("status on redis: {} field '{}' holds no message ({}); skipped malformed={}", LAST, key, e.getMessage(),
                    malformed.sum());
            return Optional.empty();
        }
    }

    static Message decodeMessage(String json) throws IOException {
        String id = null;
        String topic = null;
        String key = null;
        String device = null;
        String kind = null;
        String body = null;
        long ts = 0;
        boolean hasTs = false;
        try (JsonParser p = Json.MAPPER.getFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "id" -> id = p.getValueAsString();
                    case "ts" -> {
                        ts = p.getLongValue();
                        hasTs = true;
                    }
                    case "topic" -> topic = p.getValueAsString();
                    case "key" -> key = p.getValueAsString();
                    case "device" -> device = p.getValueAsString();
                    case "kind" -> kind = p.getValueAsString();
                    case "body" -> {
                        if (value != JsonToken.START_OBJECT) {
                            throw new IOException("its body is not a JSON object");
                        }
                        int start = (int) p.currentTokenLocation().getCharOffset();
                        p.skipChildren();
                        int end = (int) p.currentLocation().getCharOffset();
                        body = json.substring(start, end);
                    }
                    default -> p.skipChildren();
                }
            }
        }
        if (id == null || topic == null || key == null || device == null || kind == null || body == null || !hasTs) {
            throw new IOException("a field of id, ts, topic, key, device, kind and body is missing");
        }
        return new Message(id, ts, topic, RoutingKey.of(key), device, kind, body);
    }
}
