package io.junction.media.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The players of one stream, and what a late joiner needs: the metadata, the AVC/AAC sequence headers and the group
 * of pictures since the last key frame (bounded), so a new player starts at a key frame at once.
 *
 * <p>Each packet is encoded once and handed to every event loop that has players, in one task per loop, so the cost
 * per player is a buffer duplicate and a write. {@link #media} is called by one thread (the workflow's);
 * {@link #add} and {@link #remove} by network threads: the lock keeps the late joiner's catch-up and the live
 * packets in order.
 */
public final class StreamOutlet {

    private final int gopCacheBytes;
    private final ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
    private final List<RtmpPlayer> players = new ArrayList<>();
    private Group[] groups = new Group[0];
    private MediaPacket metadata;
    private MediaPacket videoHeader;
    private MediaPacket audioHeader;
    private final List<MediaPacket> gop = new ArrayList<>();
    private long gopBytes;
    private boolean gopValid;
    private boolean live;
    private long packets;
    /** The largest timestamp sent (after {@link #shift}). */
    private int lastTimestamp;
    /** Whether the next packet starts a publish that players waited for ({@link #interrupted}). */
    private boolean resuming;
    /** What is added to the timestamps of a publish that players waited for, so theirs go on from the last one. */
    private int shift;

    /**
     * The players on one event loop. Packets are written in one task each; the flush is a task of its own queued
     * behind them, so when the loop is busy several packets leave in one system call per player (as nginx-rtmp
     * does), and when it is idle the flush follows at once.
     */
    private static final class Group {
        final EventLoop loop;
        final RtmpPlayer[] players;
        /** Only touched on {@link #loop}. */
        boolean flushQueued;
        final Runnable flush;

        Group(EventLoop loop, RtmpPlayer[] players) {
            this.loop = loop;
            this.players = players;
            this.flush = () -> {
                flushQueued = false;
                for (RtmpPlayer p : this.players) {
                    p.flush();
                }
            };
        }
    }

    public StreamOutlet(int gopCacheBytes) {
        this.gopCacheBytes = gopCacheBytes;
    }

    /** Adds a player; it gets the metadata, sequence headers and cached frames first. */
    public synchronized void add(RtmpPlayer player) {
        players.add(player);
        player.attached(this);
        regroup();
        if (!live) {
            return;
        }
        List<MediaPacket> catchUp = new ArrayList<>();
        if (metadata != null) {
            catchUp.add(metadata);
        }
        if (videoHeader != null) {
            catchUp.add(videoHeader);
        }
        if (audioHeader != null) {
            catchUp.add(audioHeader);
        }
        boolean fromKey = gopValid && !gop.isEmpty();
        if (fromKey) {
            catchUp.addAll(gop);
        }
        player.eventLoop().execute(() -> {
            if (fromKey) {
                player.startingAtKeyframe();
            }
            for (MediaPacket p : catchUp) {
                player.write(p, null);
            }
            player.flush();
        });
    }

    public synchronized void remove(RtmpPlayer player) {
        if (players.remove(player)) {
            regroup();
        }
    }

    public synchronized int playerCount() {
        return players.size();
    }

    public synchronized boolean live() {
        return live;
    }

    public synchronized long packets() {
        return packets;
    }

    /** Closes every player's connection (the workflow that served them went away). */
    public synchronized void closePlayers() {
        for (RtmpPlayer p : players) {
            p.eventLoop().execute(() -> RtmpConnection.closeWith(p, "NetStream.Play.Stop", "the workflow serving this stream stopped"));
        }
        players.clear();
        regroup();
    }

    private void regroup() {
        Map<EventLoop, List<RtmpPlayer>> byLoop = new IdentityHashMap<>();
        for (RtmpPlayer p : players) {
            byLoop.computeIfAbsent(p.eventLoop(), l -> new ArrayList<>()).add(p);
        }
        Group[] g = new Group[byLoop.size()];
        int i = 0;
        for (Map.Entry<EventLoop, List<RtmpPlayer>> e : byLoop.entrySet()) {
            g[i++] = new Group(e.getKey(), e.getValue().toArray(new RtmpPlayer[0]));
        }
        groups = g;
    }

    public synchronized void media(MediaPacket in) {
        if (resuming) {
            resuming = false;
            shift = lastTimestamp + 1 - in.timestamp();
        }
        MediaPacket p = shift == 0 ? in : new MediaPacket(in.kind(), in.timestamp() + shift, in.data());
        if (p.timestamp() - lastTimestamp > 0) {
            lastTimestamp = p.timestamp();
        }
        live = true;
        packets++;
        remember(p);
        Group[] g = groups;
        if (g.length == 0) {
            return;
        }
        int chunkSize = g[0].players[0].chunkSize();
        ByteBuf encoded = Chunks.encode(alloc, Chunks.csidFor(p.kind()), 1, p.kind().typeId, p.timestamp(), p.data(), chunkSize);
        try {
            for (Group group : g) {
                ByteBuf mine = encoded.retainedDuplicate();
                group.loop.execute(() -> {
                    try {
                        for (RtmpPlayer player : group.players) {
                            boolean shared = player.streamId() == 1 && player.chunkSize() == chunkSize;
                            player.write(p, shared ? mine : null);
                        }
                    } finally {
                        mine.release();
                    }
                    if (!group.flushQueued) {
                        group.flushQueued = true;
                        group.loop.execute(group.flush);
                    }
                });
            }
        } finally {
            encoded.release();
        }
    }

    private void remember(MediaPacket p) {
        if (p.kind() == MediaPacket.Kind.METADATA) {
            metadata = p;
            return;
        }
        if (p.sequenceHeader()) {
            if (p.kind() == MediaPacket.Kind.VIDEO) {
                videoHeader = p;
            } else {
                audioHeader = p;
            }
            return;
        }
        if (gopCacheBytes <= 0) {
            return;
        }
        if (p.keyframe()) {
            gop.clear();
            gopBytes = 0;
            gopValid = true;
        }
        if (!gopValid) {
            return;
        }
        gop.add(p);
        gopBytes += p.data().length;
        if (gopBytes > gopCacheBytes) {
            // Too long a group of pictures to keep: late joiners wait for the next key frame instead.
            gop.clear();
            gopBytes = 0;
            gopValid = false;
        }
    }

    /** The publisher stopped: players are told and wait for the next publish; the cache is cleared. */
    public synchronized void ended() {
        clear();
        resuming = false;
        shift = 0;
        lastTimestamp = 0;
        for (RtmpPlayer p : players) {
            p.eventLoop().execute(p::unpublished);
        }
    }

    /**
     * The publisher stopped, but its players are kept waiting for the next one (the grace period) and are told
     * nothing, since ffmpeg and ffplay take {@code NetStream.Play.UnpublishNotify} for the end. The cache is cleared;
     * the next publish reaches them with its metadata and sequence headers first, from its first key frame, and with
     * timestamps shifted to go on from the last ones they got, so their decoders and muxers see one stream.
     */
    public synchronized void interrupted() {
        clear();
        resuming = true;
        for (RtmpPlayer p : players) {
            p.eventLoop().execute(p::interrupted);
        }
    }

    private void clear() {
        live = false;
        metadata = null;
        videoHeader = null;
        audioHeader = null;
        gop.clear();
        gopBytes = 0;
        gopValid = false;
    }
}
