package io.junction.core.http;

/**
 * A WebSocket protocol served by a feature (such as the devices' real-time API) without depending on the HTTP server:
 * the server calls {@link #open} for every accepted socket, then the listener with each text frame.
 */
@FunctionalInterface
public interface SocketEndpoint {

    /** Called once the upgrade is authenticated; the listener gets the socket's frames, one at a time. */
    SocketListener open(SocketSession session);

    /** What a socket's frames are handed to. Calls for one socket never overlap. */
    interface SocketListener {

        /** One whole text frame from the client. */
        void onText(String text);

        /** The socket closed (either side); called once. */
        void onClose();
    }
}
