package io.junction.core.device;

import java.util.Optional;

/** What the server knows of one connected (or once connected) device. */
public record DeviceInfo(String uid, String clientId, Optional<String> username, boolean connected,
                         long connectedAt, long lastSeen, long messagesIn, long messagesOut,
                         long bytesIn, long bytesOut, String remoteAddress, int protocolVersion) {
}
