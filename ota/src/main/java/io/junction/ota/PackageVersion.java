package io.junction.ota;

import java.util.Optional;

/**
 * A firmware version: {@code major.minor.patch} with an optional build or commit id after a {@code +}
 * ({@code 1.2.3+42}, {@code 1.2.3+a1b2c3d}). Versions compare numerically part by part; the build breaks ties
 * (no build first, then numeric builds by value, then others by text), so every two different versions are ordered.
 */
public record PackageVersion(int major, int minor, int patch, Optional<String> build) implements Comparable<PackageVersion> {

    public PackageVersion {
        if (major < 0 || minor < 0 || patch < 0) {
            throw new IllegalArgumentException("version numbers cannot be negative");
        }
        build.ifPresent(b -> {
            if (!b.matches("[0-9A-Za-z._-]{1,64}")) {
                throw new IllegalArgumentException("a build id is 1 to 64 letters, digits, '.', '_' or '-', got '" + b + "'");
            }
        });
    }

    /** Parses {@code major.minor.patch[+build]}; an {@link IllegalArgumentException} says what is wrong. */
    public static PackageVersion parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("the version is empty: use major.minor.patch, as in 1.2.3 or 1.2.3+42");
        }
        String t = text.strip();
        if (t.startsWith("v") || t.startsWith("V")) {
            t = t.substring(1);
        }
        Optional<String> build = Optional.empty();
        int plus = t.indexOf('+');
        if (plus >= 0) {
            build = Optional.of(t.substring(plus + 1));
            t = t.substring(0, plus);
        }
        String[] parts = t.split("\\.", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("'" + text + "' is not a version: use major.minor.patch, as in 1.2.3 or 1.2.3+42");
        }
        int[] n = new int[3];
        for (int i = 0; i < 3; i++) {
            if (!parts[i].matches("[0-9]{1,9}")) {
                throw new IllegalArgumentException("'" + text + "' is not a version: each of major, minor and patch is a whole number");
            }
            n[i] = Integer.parseInt(parts[i]);
        }
        return new PackageVersion(n[0], n[1], n[2], build);
    }

    @Override
    public int compareTo(PackageVersion o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        if (c == 0) {
            c = Integer.compare(patch, o.patch);
        }
        if (c != 0) {
            return c;
        }
        if (build.isEmpty() || o.build.isEmpty()) {
            return Boolean.compare(build.isPresent(), o.build.isPresent());
        }
        String a = build.get();
        String b = o.build.get();
        boolean an = a.matches("[0-9]{1,18}");
        boolean bn = b.matches("[0-9]{1,18}");
        if (an && bn) {
            return Long.compare(Long.parseLong(a), Long.parseLong(b));
        }
        if (an != bn) {
            return an ? -1 : 1;
        }
        return a.compareTo(b);
    }

    public boolean isOlderThan(PackageVersion o) {
        return compareTo(o) < 0;
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch + build.map(b -> "+" + b).orElse("");
    }
}
