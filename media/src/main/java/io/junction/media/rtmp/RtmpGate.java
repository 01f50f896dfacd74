package io.junction.media.rtmp;

import java.util.concurrent.CompletableFuture;

/** Decides which publishers and players the RTMP endpoint accepts: the workflows do (rtmp_receive, rtmp_watch). */
public interface RtmpGate {

    /**
     * A client asks to publish {@code streamKey} on {@code app}. Completes with where its media goes, or exceptionally
     * with {@link Refused} (the publisher gets an {@code onStatus} error with the reason).
     *
     * @param close closes the publisher's connection, for when the workflows that took the stream go away
     */
    CompletableFuture<MediaSink> publish(String app, String streamKey, String remote, Runnable close);

    /** A client asks to play; attaches it to the stream's players or throws {@link Refused}. */
    void play(String app, String streamKey, RtmpPlayer player) throws Refused;

    /** Why a publish or play was refused; the message goes to the client. */
    final class Refused extends Exception {
        public Refused(String reason) {
            super(reason, null, false, false);
        }
    }
}
