package io.junction.server;

import io.junction.core.config.Section;
import io.junction.core.feature.Feature;

import java.util.Objects;
import java.util.function.Function;

/**
 * What the server's features share: a fixed component name and the reader of their settings record, so that each
 * feature class says only how it starts (and, where it checks more than its settings record does, what else).
 *
 * @param <S> the feature's settings record
 */
abstract class NamedFeature<S> implements Feature<S> {

    private final String name;
    private final Function<Section, S> read;

    NamedFeature(String name, Function<Section, S> read) {
        this.name = Objects.requireNonNull(name, "name");
        this.read = Objects.requireNonNull(read, "read");
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public S check(Section root) {
        return read.apply(root);
    }
}
