package io.junction.media.workflow;

import io.junction.media.rtmp.MediaPacket;

import java.util.Map;

/**
 * One running step of a workflow. Its methods are called on the workflow's thread only, in order; a step that
 * produces media on another thread (an ffmpeg reader) hands it back through its {@link Output}.
 */
interface Step {

    /** Starts the step; throws {@link Failure} when it cannot run (the workflow then fails). */
    void start();

    void streamStarted(String stream);

    /** Handles a packet; returns whether it goes on to the next step (a transcoder passes its output instead). */
    boolean media(String stream, MediaPacket packet);

    void streamEnded(String stream);

    /** Stops the step and whatever it started. */
    void stop();

    /** What the API shows about the step beyond its definition (processes, players). */
    Map<String, Object> info();

    /** Media a step produces later, on another thread; it enters the workflow at the next step. */
    interface Output {
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
