package io.junction.media.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One client playing one stream. Every write happens on its channel's event loop. A player that cannot keep up (its
 * channel stops being writable at the configured buffer) skips frames until the next key frame, so it never holds
 * an ever-growing backlog, and the skipped frames are counted.
 */
public final class RtmpPlayer {

    private final Channel channel;
    private final int streamId;
    private final int chunkSize;
    private final String description;
    private final Runnable onSkip;
    /** Written only on the event loop. */
    private boolean waitForKey = true;
    private volatile boolean closed;
    private volatile StreamOutlet outlet;
    private final AtomicLong skipped = new AtomicLong();

    RtmpPlayer(Channel channel, int streamId, int chunkSize, String description, Runnable onSkip) {
        this.channel = channel;
        this.streamId = streamId;
        this.chunkSize = chunkSize;
        this.description = description;
        this.onSkip = onSkip;
    }

    Channel channel() {
        return channel;
    }

    EventLoop eventLoop() {
        return channel.eventLoop();
    }

    int streamId() {
        return streamId;
    }

    int chunkSize() {
        return chunkSize;
    }

    public String description() {
        return description;
    }

    public long skipped() {
        return skipped.get();
    }

    void attached(StreamOutlet outlet) {
        this.outlet = outlet;
    }

    /** Called on the event loop when the client stops playing or goes away. */
    void close() {
        closed = true;
        StreamOutlet o = outlet;
        if (o != null) {
            o.remove(this);
        }
    }

    boolean closed() {
        return closed;
    }

    /**
     * Writes a packet that was encoded for {@link #streamId()} and {@link #chunkSize()} (or encodes it when
     * {@code encoded} is null). On the event loop only. Returns whether it was written.
     */
    boolean write(MediaPacket p, ByteBuf encoded) {
        if (closed) {
            return false;
        }
        if (!p.header()) {
            if (!channel.isWritable()) {
                waitForKey = true;
            }
            if (waitForKey) {
                if (!(p.keyframe() && channel.isWritable())) {
                    skipped.incrementAndGet();
                    onSkip.run();
                    return false;
                }
                waitForKey = false;
            }
        }
        ByteBuf buf = encoded != null ? encoded.retainedDuplicate()
                : Chunks.encode(channel.alloc(), Chunks.csidFor(p.kind()), streamId, p.kind().typeId, p.timestamp(), p.data(), chunkSize);
        channel.write(buf, channel.voidPromise());
        return true;
    }

    /** Lets the next write start without a key frame: the caller is sending a cached group of pictures from its key frame. */
    void startingAtKeyframe() {
        waitForKey = false;
    }

    void flush() {
        channel.flush();
    }

    /** The stream's publisher stopped and another may follow: start it at a key frame (on the event loop). */
    void interrupted() {
        waitForKey = true;
    }

    /** Tells the client the stream stopped (on the event loop). */
    void unpublished() {
        waitForKey = true;
        if (!closed) {
            RtmpConnection.onStatus(channel, streamId, "status", "NetStream.Play.UnpublishNotify", "the stream stopped");
        }
    }
}
