package io.junction.core.state;

import java.util.Optional;

/** A record that changed: {@code record} is what it is now, empty when it was deleted. */
public record StateChange(String collection, String key, Optional<StateRecord> record) {
}
