package io.junction.store.log;

import io.junction.core.stream.MessageStream;
import io.junction.core.stream.MessageStreamContract;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Optional;

import static io.junction.store.TestMessages.settings;

/** The streams contract over the embedded log, on real files. */
class LogStreamContractTest extends MessageStreamContract {

    @TempDir
    Path dir;

    @Override
    protected MessageStream openStream(String name) {
        return LogStream.open(dir.resolve(name), name, settings(dir), new SimpleMeterRegistry());
    }

    @Override
    protected Optional<MessageStream> openBounded(String name, int capacity) {
        return Optional.of(LogStream.open(dir.resolve(name), name, settings(dir), new SimpleMeterRegistry(), capacity));
    }
}
