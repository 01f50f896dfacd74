package io.junction.media.rtmp;

/**
 * One unit of a live stream as RTMP and FLV carry it: an audio frame, a video frame or the stream's metadata
 * ({@code onMetaData}), with its timestamp in milliseconds. {@code data} is the FLV tag body and is never changed
 * after the packet is made, so one packet is shared by every step and player that sees it.
 */
public record MediaPacket(Kind kind, int timestamp, byte[] data) {

    public enum Kind {
        AUDIO(8), VIDEO(9), METADATA(18);

        /** The RTMP message type id and FLV tag type. */
        public final int typeId;

        Kind(int typeId) {
            this.typeId = typeId;
        }

        public static Kind ofTypeId(int typeId) {
            return switch (typeId) {
                case 8 -> AUDIO;
                case 9 -> VIDEO;
                case 18 -> METADATA;
                default -> null;
            };
        }
    }

    /** A video key frame (FLV frame type 1), where a player can start. */
    public boolean keyframe() {
        return kind == Kind.VIDEO && data.length > 0 && (data[0] & 0xF0) == 0x10;
    }

    /** The AVC decoder configuration or the AAC audio specific config: a player needs it before any frame. */
    public boolean sequenceHeader() {
        if (data.length < 2) {
            return false;
        }
        if (kind == Kind.VIDEO) {
            return (data[0] & 0x0F) == 7 && data[1] == 0;
        }
        return kind == Kind.AUDIO && ((data[0] & 0xF0) >> 4) == 10 && data[1] == 0;
    }

    /** What a late joiner needs before frames: metadata and sequence headers. */
    public boolean header() {
        return kind == Kind.METADATA || sequenceHeader();
    }
}
