package io.junction.core.http;

import io.junction.core.auth.Principal;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One open WebSocket as a feature sees it. {@link #send} may be called from any thread: frames are queued (bounded)
 * and written in order by the socket's own writer; a client too slow to keep up is disconnected rather than let the
 * queue grow.
 */
public interface SocketSession {

    /** Who opened it; empty only when the API has no authentication. */
    Optional<Principal> caller();

    /** The query parameters of the upgrade request. */
    Map<String, List<String>> query();

    /** Queues a text frame; false when the socket is closed or its queue is full (it is then being closed). */
    boolean send(String text);

    void close(int code, String reason);
}
