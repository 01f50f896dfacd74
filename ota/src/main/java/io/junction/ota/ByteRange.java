package io.junction.ota;

import java.util.Optional;

/**
 * A single byte range of a {@code Range: bytes=...} request header (RFC 9110 §14), resolved against the image size:
 * {@code first-last}, {@code first-} or {@code -suffix}. {@code last} is inclusive.
 */
record ByteRange(long first, long last) {

    /** What a Range header asks for. */
    sealed interface Ask permits Whole, Part, Unsatisfiable {
    }

    /** No range, or one the server ignores (malformed, several ranges, another unit): send it all with 200. */
    record Whole() implements Ask {
    }

    /** One satisfiable range: send it with 206. */
    record Part(ByteRange range) implements Ask {
    }

    /** A well-formed range that lies past the end: 416. */
    record Unsatisfiable() implements Ask {
    }

    long length() {
        return last - first + 1;
    }

    static Ask parse(Optional<String> header, long size) {
        if (header.isEmpty()) {
            return new Whole();
        }
        String h = header.get().strip();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Whole();
        }
        String spec = h.substring(6).strip();
        if (spec.indexOf(',') >= 0) {
            return new Whole();
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Whole();
        }
        String a = spec.substring(0, dash).strip();
        String b = spec.substring(dash + 1).strip();
        if ((!a.isEmpty() && !a.matches("[0-9]{1,18}")) || (!b.isEmpty() && !b.matches("[0-9]{1,18}")) || (a.isEmpty() && b.isEmpty())) {
            return new Whole();
        }
        if (a.isEmpty()) {
            long suffix = Long.parseLong(b);
            if (suffix == 0 || size == 0) {
                return new Unsatisfiable();
            }
            return new Part(new ByteRange(Math.max(0, size - suffix), size - 1));
        }
        long first = Long.parseLong(a);
        long last = b.isEmpty() ? Long.MAX_VALUE : Long.parseLong(b);
        if (last < first) {
            return new Whole();
        }
        if (first >= size) {
            return new Unsatisfiable();
        }
        return new Part(new ByteRange(first, Math.min(last, size - 1)));
    }
}
