package io.junction.core.stream;

/**
 * Completes an {@link MessageStream#append} at once when the stream's append queue is full. The producer pushes back
 * on its own input (an MQTT connection pauses reading, or answers MQTT 5 clients with "quota exceeded") instead of
 * waiting on its thread; a producer with a thread of its own may use {@link MessageStream#appendWaiting} instead.
 */
public final class StreamFullException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public StreamFullException(String streamName) {
        super("stream '" + streamName + "': the stream's append queue is full");
    }
}
