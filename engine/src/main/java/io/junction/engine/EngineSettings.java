package io.junction.engine;

import io.junction.core.RoutingPattern;
import io.junction.core.config.Section;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The processing engine ({@code [engine]}): the limits every script runs under, the raw messages copied unchanged to
 * the processed stream, and the folder watched for {@code .wasm} plugins.
 *
 * @param timeLimitMillis       the longest one call of a script may run ({@code process}, {@code init}); a call that
 *                              runs longer is stopped and its message recorded as failed
 * @param memoryLimitBytes      the most bytes one call may allocate; a call that allocates more is stopped (GraalVM
 *                              community has no per-context heap limit, so the engine measures the allocation of the
 *                              thread running the call; WASM memory is also capped at this size)
 * @param failuresBeforeSuspend failed messages in a row after which a script is suspended until a new version is stored
 * @param passThrough           routing-key patterns whose raw messages are copied unchanged to the processed stream
 * @param plugins               the folder watched for {@code .wasm} plugins; empty means {@code <data dir>/../plugins}
 * @param threads               how many scripts may run a message at the same moment (replays included)
 */
public record EngineSettings(long timeLimitMillis, long memoryLimitBytes, int failuresBeforeSuspend,
                             List<String> passThrough, Optional<Path> plugins, int threads) {

    public EngineSettings {
        passThrough = List.copyOf(passThrough);
    }

    public static EngineSettings defaults() {
        return new EngineSettings(1_000, 64L * 1024 * 1024, 10, List.of(), Optional.empty(),
                Math.max(2, Runtime.getRuntime().availableProcessors()));
    }

    /** Reads {@code [engine]} from the root table; an absent section means the defaults. */
    public static EngineSettings read(Section root) {
        Section s = root.table("engine");
        EngineSettings d = defaults();
        long time = s.integer("time_limit_ms", d.timeLimitMillis(), 10, 600_000);
        long memoryMb = s.integer("memory_limit_mb", d.memoryLimitBytes() / (1024 * 1024), 1, 64 * 1024);
        int failures = (int) s.integer("failures_before_suspend", d.failuresBeforeSuspend(), 1, 1_000_000);
        List<String> passThrough = s.stringList("pass_through", d.passThrough());
        for (String p : passThrough) {
            try {
                RoutingPattern.of(p);
            } catch (IllegalArgumentException e) {
                throw s.error("pass_through", e.getMessage());
            }
        }
        Optional<String> plugins = s.optionalString("plugins");
        if (plugins.isPresent() && plugins.get().isBlank()) {
            throw s.error("plugins", "expected the path of a folder for .wasm plugins, got an empty string");
        }
        int threads = (int) s.integer("threads", d.threads(), 1, 1024);
        s.finish();
        return new EngineSettings(time, memoryMb * 1024 * 1024, failures, passThrough, plugins.map(Path::of), threads);
    }
}
