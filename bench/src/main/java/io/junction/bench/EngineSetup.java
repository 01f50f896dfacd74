package io.junction.bench;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which of Junction's ports a bench run puts on a real engine: the streams on Kafka, the status on Redis, the state on
 * PostgreSQL; none of them is {@link #EMBEDDED}. Parsed from {@code --engines}: setups separated by {@code /}, each a
 * comma list of {@code kafka}, {@code redis}, {@code postgres}, or {@code all} (the three) or {@code embedded} (none),
 * e.g. {@code --engines embedded/all} runs the same measurement on the embedded stores and on the three engines.
 */
record EngineSetup(boolean kafka, boolean redis, boolean postgres) {

    static final EngineSetup EMBEDDED = new EngineSetup(false, false, false);
    static final EngineSetup ALL = new EngineSetup(true, true, true);
    static final String SYNTAX = "setups separated by '/', each 'embedded', 'all' or a comma list of kafka, redis,"
            + " postgres (e.g. 'kafka,redis,postgres' or 'embedded/all')";

    boolean isEmbedded() {
        return !kafka && !redis && !postgres;
    }

    /** {@code embedded}, or the engines joined by {@code +} in a fixed order: {@code kafka+redis+postgres}. */
    String label() {
        if (isEmbedded()) {
            return "embedded";
        }
        List<String> names = new ArrayList<>();
        if (kafka) {
            names.add("kafka");
        }
        if (redis) {
            names.add("redis");
        }
        if (postgres) {
            names.add("postgres");
        }
        return String.join("+", names);
    }

    /** One setup: {@code embedded}, {@code all} or a comma list of engine names (each at most once). */
    static EngineSetup parse(String spec) throws Args.UsageException {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.isEmpty()) {
            throw new Args.UsageException("--engines: an empty setup; expected " + SYNTAX);
        }
        Set<String> names = new LinkedHashSet<>();
        for (String part : s.split(",", -1)) {
            String name = part.trim();
            if (name.isEmpty()) {
                throw new Args.UsageException("--engines '" + spec + "': an empty engine name; expected " + SYNTAX);
            }
            if (!Set.of("embedded", "all", "kafka", "redis", "postgres").contains(name)) {
                throw new Args.UsageException("--engines '" + spec + "': unknown engine '" + name + "'; expected " + SYNTAX);
            }
            if (!names.add(name)) {
                throw new Args.UsageException("--engines '" + spec + "': '" + name + "' is named twice");
            }
        }
        if (names.size() > 1 && (names.contains("embedded") || names.contains("all"))) {
            String alone = names.contains("embedded") ? "embedded" : "all";
            throw new Args.UsageException("--engines '" + spec + "': '" + alone + "' stands alone in a setup; to run"
                    + " several setups side by side separate them with '/', e.g. 'embedded/all'");
        }
        if (names.contains("embedded")) {
            return EMBEDDED;
        }
        if (names.contains("all")) {
            return ALL;
        }
        return new EngineSetup(names.contains("kafka"), names.contains("redis"), names.contains("postgres"));
    }

    /** Setups separated by {@code /}, run in that order; the same setup twice is refused (use {@code --runs}). */
    static List<EngineSetup> parseList(String value) throws Args.UsageException {
        List<EngineSetup> setups = new ArrayList<>();
        for (String spec : value.split("/", -1)) {
            EngineSetup setup = parse(spec);
            if (setups.contains(setup)) {
                throw new Args.UsageException("--engines '" + value + "': the setup '" + setup.label()
                        + "' is named twice; use --runs N to repeat a measurement");
            }
            setups.add(setup);
        }
        return List.copyOf(setups);
    }
}
