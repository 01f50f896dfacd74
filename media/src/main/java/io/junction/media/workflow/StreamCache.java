package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;

import java.util.ArrayList;
import java.util.List;

/**
 * What something that starts in the middle of a stream needs before live media to decode it: the metadata, the
 * AVC/AAC sequence headers and the group of pictures since the last key frame (bounded in bytes; over the bound only
 * the headers are kept and the newcomer starts at the next key frame). A workflow keeps one per stream for what
 * enters it and for what each step passes on, so a step added by an update gets it; a publish keeps one, so a
 * workflow created while it is live gets it. Used by one thread at a time (its owner's).
 */
final class StreamCache {

    private final int gopCacheBytes;
    private MediaPacket metadata;
    private MediaPacket videoHeader;
    private MediaPacket audioHeader;
    private final List<MediaPacket> gop = new ArrayList<>();
    private long gopBytes;
    private boolean gopValid;

    StreamCache(int gopCacheBytes) {
        this.gopCacheBytes = gopCacheBytes;
    }

    void remember(MediaPacket p) {
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
            gop.clear();
            gopBytes = 0;
            gopValid = false;
        }
    }

    /** Whether anything was remembered. */
    boolean isEmpty() {
        return metadata == null && videoHeader == null && audioHeader == null && gop.isEmpty();
    }

    /** The metadata, the sequence headers, then the frames from the last key frame, in that order. */
    List<MediaPacket> replay() {
        List<MediaPacket> out = new ArrayList<>(3 + gop.size());
        if (metadata != null) {
            out.add(metadata);
        }
        if (videoHeader != null) {
            out.add(videoHeader);
        }
        if (audioHeader != null) {
            out.add(audioHeader);
        }
        out.addAll(gop);
        return out;
    }
}
