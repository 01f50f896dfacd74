package io.junction.media.rtmp;

/** A peer broke the RTMP protocol; its connection is closed with this reason, logged and counted. */
final class RtmpException extends RuntimeException {

    /** A short stable name for the metric ({@code handshake}, {@code chunk_size}, {@code message_size}, ...). */
    final String reason;

    RtmpException(String reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }
}
