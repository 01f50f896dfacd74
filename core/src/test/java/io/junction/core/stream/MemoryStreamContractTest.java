package io.junction.core.stream;

import io.junction.core.testing.MemoryStream;

import java.util.Optional;

/** The streams contract over the in-memory stream that unit tests use, so it behaves as the real adapters do. */
class MemoryStreamContractTest extends MessageStreamContract {

    @Override
    protected MessageStream openStream(String name) {
        return new MemoryStream(name);
    }

    @Override
    protected Optional<MessageStream> openBounded(String name, int capacity) {
        return Optional.empty();
    }
}
