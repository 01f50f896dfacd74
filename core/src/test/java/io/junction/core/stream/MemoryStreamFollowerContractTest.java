package io.junction.core.stream;

import io.junction.core.testing.MemoryStream;

/** The follower's guarantees over the in-memory stream. */
class MemoryStreamFollowerContractTest extends StreamFollowerContract {

    @Override
    protected MessageStream openStream(String name) {
        return new MemoryStream(name);
    }
}
