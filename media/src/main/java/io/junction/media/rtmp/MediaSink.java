package io.junction.media.rtmp;

/**
 * Where an accepted publisher's media goes. Called on the publisher's network thread: it must not block (hand the
 * packet to a bounded mailbox, and skip to the next key frame when that is full).
 */
public interface MediaSink {

    void media(MediaPacket packet);

    /** The publisher stopped (deleteStream, FCUnpublish or a closed connection). Called once. */
    void end();
}
