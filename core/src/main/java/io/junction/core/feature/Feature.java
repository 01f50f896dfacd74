package io.junction.core.feature;

import io.junction.core.config.ConfigException;
import io.junction.core.config.Section;

/**
 * A feature of a node (auth, devices, engine, telemetry, OTA, media) as the composition root sees it. The root loops
 * over its list of features twice: when the config file is loaded, each {@link #check}s its own sections into its own
 * settings record; when the node starts, each is registered with the hub under its {@link #name}, {@link #start}ed,
 * marked ready (or failed), and what it returns is closed, in reverse order, when the node stops or a later part
 * fails to start.
 *
 * @param <S> the feature's settings record, which lives with the feature, not in {@code core}
 */
public interface Feature<S> {

    /** The component name in the hub and {@code GET /api/health}: lower-case, unique among the features. */
    String name();

    /**
     * Reads this feature's sections of the config file from the root table ({@code root.table("ota")},
     * {@code root.tableList("jobs")}), with defaults for what is absent, and validates them as far as can be done
     * without starting anything (this is what {@code junction config check} runs). Every error is a
     * {@link ConfigException} with the file and line ({@link Section#error}). A top-level section that no feature (and
     * not the spine) reads is rejected as an unknown key. Secrets come from the environment the file is read in
     * ({@link Section#secret}, {@link Section#env}), never from {@code System.getenv}.
     */
    S check(Section root);

    /**
     * Starts the feature with the settings its {@link #check} returned: it adds its routes to
     * {@link FeatureContext#routes()} and uses the ports in {@code context}. Returns what stops it. When it throws,
     * the root marks it failed and closes what had started before it.
     */
    AutoCloseable start(FeatureContext context, S settings) throws Exception;
}
