package io.junction.core.stream;

import io.junction.core.Message;

/** A message together with its offset in the stream that holds it. */
public record StreamEntry(long offset, Message message) {
}
