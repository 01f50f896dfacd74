package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;

import java.time.Duration;
import java.util.Map;

/**
 * One running step of a workflow. Its methods are called on the workflow's thread only, in order; a step that
 * produces media on another thread (an ffmpeg reader) hands it back through its {@link Output}.
 */
interface Step {

    /** Starts the step; throws {@link Failure} when it cannot run (the workflow then fails). */
    void start();

    /** A stream begins (a step that does not care ignores it). */
    default void streamStarted(String stream) {
    }

    /**
     * Handles a packet; returns whether it goes on to the next step (a transcoder passes its output instead). A step
     * that does not look at media passes every packet on.
     */
    default boolean media(String stream, MediaPacket packet) {
        return true;
    }

    /** A stream ends (a step that does not care ignores it). */
    default void streamEnded(String stream) {
    }

    /** Stops the step and whatever it started. */
    void stop();

    /** What the API shows about the step beyond its definition (processes, players). */
    Map<String, Object> info();

    /** The timer the step asked for with {@link Output#retryLater} is due. */
    default void retry() {
    }

    /**
     * Media a step produces later, on another thread, enters the workflow at the next step; and a step that must try
     * something again later asks its workflow for a timer.
     */
    interface Output {
        /**
         * Calls {@link Step#retry} on the workflow's thread after {@code delay} of the workflow's clock, replacing a
         * retry the step asked for before. Called on the workflow's thread.
         */
        void retryLater(Duration delay);

        void started(String stream, String from);

        void media(String stream, MediaPacket packet);

        void ended(String stream);
    }

    /** Why a step cannot run; the message is shown as the workflow's error. */
    final class Failure extends RuntimeException {
        Failure(String message) {
            super(message);
        }
    }
}
