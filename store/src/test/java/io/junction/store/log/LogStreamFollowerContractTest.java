package io.junction.store.log;

import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamFollowerContract;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static io.junction.store.TestMessages.settings;

/** The follower's guarantees over the embedded log, whose taps are fed by its dispatcher thread. */
class LogStreamFollowerContractTest extends StreamFollowerContract {

    @TempDir
    Path dir;

    @Override
    protected MessageStream openStream(String name) {
        return LogStream.open(dir.resolve(name), name, settings(dir), new SimpleMeterRegistry());
    }
}
