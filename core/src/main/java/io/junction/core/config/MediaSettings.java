package io.junction.core.config;

/** Live video: the RTMP endpoint ([rtmp]), ffmpeg ([ffmpeg]), static workflows ([[workflows]]) and reactors ([[reactors]]). */
public record MediaSettings() {

    public static MediaSettings defaults() {
        return new MediaSettings();
    }

    /** Reads its sections from the root table; absent sections mean the defaults. */
    static MediaSettings read(Section root) {
        return defaults();
    }
}
