package io.junction.engine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A script's log: the last lines it wrote (with {@code junction.log}, {@code console.log}, {@code print} or the WASM
 * {@code log} import), kept for {@code GET /api/scripts/{name}}. Bounded in lines and line length, so a script that
 * logs on every message costs a constant amount of memory; every line also goes to the server log at DEBUG.
 */
final class LogRing {

    private static final Logger log = LoggerFactory.getLogger("io.junction.engine.script");
    static final int LINES = 20;
    static final int LINE_CHARS = 500;

    private final String script;
    private final ArrayDeque<String> lines = new ArrayDeque<>(LINES);
    private long total;

    LogRing(String script) {
        this.script = script;
    }

    synchronized void add(String line) {
        String l = line.length() > LINE_CHARS ? line.substring(0, LINE_CHARS) + "..." : line;
        if (lines.size() == LINES) {
            lines.pollFirst();
        }
        lines.addLast(l);
        total++;
        if (log.isDebugEnabled()) {
            log.debug("script={} log: {}", script, l);
        }
    }

    synchronized List<String> recent() {
        return new ArrayList<>(lines);
    }

    synchronized long total() {
        return total;
    }

    /** The script's standard output and error: one log line per text line. */
    OutputStream stream() {
        return new OutputStream() {
            private final ByteArrayOutputStream current = new ByteArrayOutputStream();

            @Override
            public synchronized void write(int b) {
                if (b == '\n') {
                    flushLine();
                } else if (current.size() < LINE_CHARS * 4) {
                    current.write(b);
                }
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                for (int i = off; i < off + len; i++) {
                    write(b[i]);
                }
            }

            private void flushLine() {
                add(current.toString(StandardCharsets.UTF_8));
                current.reset();
            }
        };
    }
}
