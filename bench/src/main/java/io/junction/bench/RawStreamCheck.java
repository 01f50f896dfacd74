package io.junction.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Reads the whole raw stream through {@code GET /api/streams/raw?from=<offset>&limit=10000} (pages of
 * {@code {"messages":[...],"next":N}}) and ticks off every acknowledged (device, seq) of a bench run: what is left
 * over was acknowledged but is not in the stream.
 */
final class RawStreamCheck {

    static final int PAGE = 10_000;
    private static final JsonFactory JSON = new JsonFactory();

    /** The outcome; {@code examples} lists a few lost (device, seq) pairs. */
    record Result(long pages, long messages, long runMessages, long found, long notAcked, long lost,
                  List<String> examples) {
    }

    private RawStreamCheck() {
    }

    /**
     * @param acked per device, the seqs whose PUBACK arrived (null for a device that did not publish QoS 1); the
     *              bits are cleared as they are found
     */
    static Result check(String baseUrl, String token, int run, BitSet[] acked, PrintStream progress) throws IOException {
        long from = 0;
        long pages = 0;
        long messages = 0;
        long runMessages = 0;
        long found = 0;
        long notAcked = 0;
        long started = System.nanoTime();
        long lastReport = started;
        Fields f = new Fields();
        while (true) {
            String url = baseUrl + "/api/streams/raw?from=" + from + "&limit=" + PAGE;
            HttpResponse<byte[]> r = Net.getBytes(url, Duration.ofSeconds(60), token);
            if (r.statusCode() != 200) {
                throw new IOException("GET " + url + " answered " + r.statusCode() + ": "
                        + new String(r.body(), StandardCharsets.UTF_8));
            }
            pages++;
            long next = -1;
            int inPage = 0;
            try (JsonParser p = JSON.createParser(r.body())) {
                expect(p.nextToken(), JsonToken.START_OBJECT, url);
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken v = p.nextToken();
                    if (name.equals("next") && v.isNumeric()) {
                        next = p.getLongValue();
                    } else if (name.equals("messages") && v == JsonToken.START_ARRAY) {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            inPage++;
                            readMessage(p, f);
                            if (f.ok && f.run == run) {
                                runMessages++;
                                BitSet b = f.device >= 0 && f.device < acked.length ? acked[(int) f.device] : null;
                                if (b != null && f.seq >= 0 && f.seq < Integer.MAX_VALUE && b.get((int) f.seq)) {
                                    b.clear((int) f.seq);
                                    found++;
                                } else if (b != null) {
                                    notAcked++;   // a QoS 1 publish whose PUBACK we never saw, or a duplicate
                                }
                            }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
            }
            messages += inPage;
            if (inPage == 0) {
                break;
            }
            if (next <= from) {
                throw new IOException("GET " + url + " answered " + inPage + " messages but 'next' " + next
                        + " does not move past 'from' " + from);
            }
            from = next;
            long now = System.nanoTime();
            if (progress != null && now - lastReport > 10_000_000_000L) {
                lastReport = now;
                progress.printf("    ... read %,d messages of the raw stream (offset %,d)%n", messages, from);
            }
        }
        long lost = 0;
        List<String> examples = new ArrayList<>();
        for (int d = 0; d < acked.length; d++) {
            if (acked[d] == null) {
                continue;
            }
            lost += acked[d].cardinality();
            for (int s = acked[d].nextSetBit(0); s >= 0 && examples.size() < 10; s = acked[d].nextSetBit(s + 1)) {
                examples.add("device " + d + " seq " + s);
            }
        }
        return new Result(pages, messages, runMessages, found, notAcked, lost, examples);
    }

    private static void expect(JsonToken got, JsonToken want, String url) throws IOException {
        if (got != want) {
            throw new IOException("GET " + url + ": expected " + want + " but the answer had " + got);
        }
    }

    /** The bench fields of one stream message's body. */
    static final class Fields {
        boolean ok;
        long run;
        long device;
        long seq;
        private final Payload payload = new Payload();
    }

    /** Reads one message object (the parser is on its START_OBJECT) and leaves the parser on its END_OBJECT. */
    private static void readMessage(JsonParser p, Fields f) throws IOException {
        f.ok = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (name.equals("body") && v == JsonToken.START_OBJECT) {
                readBody(p, f);
            } else if (name.equals("body") && v == JsonToken.VALUE_STRING) {
                if (f.payload.parse(p.getText(), 0)) {
                    f.ok = true;
                    f.run = f.payload.run;
                    f.device = f.payload.device;
                    f.seq = f.payload.seq;
                }
            } else {
                p.skipChildren();
            }
        }
    }

    private static void readBody(JsonParser p, Fields f) throws IOException {
        boolean r = false;
        boolean d = false;
        boolean s = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (v == JsonToken.VALUE_NUMBER_INT) {
                switch (name) {
                    case "r" -> {
                        f.run = p.getLongValue();
                        r = true;
                    }
                    case "d" -> {
                        f.device = p.getLongValue();
                        d = true;
                    }
                    case "s" -> {
                        f.seq = p.getLongValue();
                        s = true;
                    }
                    default -> {
                        // "t" and others
                    }
                }
            } else {
                p.skipChildren();
            }
        }
        f.ok = r && d && s;
    }
}
