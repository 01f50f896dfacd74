package io.junction.mqtt.broker;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Who has connected: one record per client id, kept after the client leaves so the devices API can show it.
 * Records of disconnected clients beyond {@code maxRemembered} are forgotten, least recently seen first.
 */
final class ClientRegistry {

    /** Live statistics of one client id, updated by its connections. */
    static final class ClientRecord {
        final String clientId;
        volatile Optional<String> username = Optional.empty();
        volatile String deviceUid;
        /** The connection that has this client id now; null while it is offline. */
        final AtomicReference<Object> owner = new AtomicReference<>();
        volatile long connectedAtMillis;
        volatile long lastSeenMillis;
        volatile String remoteAddress = "";
        volatile int protocolVersion;
        final AtomicLong messagesIn = new AtomicLong();
        final AtomicLong messagesOut = new AtomicLong();
        final AtomicLong bytesIn = new AtomicLong();
        final AtomicLong bytesOut = new AtomicLong();

        ClientRecord(String clientId) {
            this.clientId = clientId;
            this.deviceUid = clientId;
        }

        ClientInfo snapshot() {
            return new ClientInfo(clientId, username, deviceUid, owner.get() != null, connectedAtMillis, lastSeenMillis,
                    messagesIn.get(), messagesOut.get(), bytesIn.get(), bytesOut.get(), remoteAddress, protocolVersion);
        }
    }

    private final Map<String, ClientRecord> records = new ConcurrentHashMap<>();
    private final int maxRemembered;

    ClientRegistry(int maxRemembered) {
        this.maxRemembered = maxRemembered;
    }

    /** The record of {@code clientId}, created if new, now owned by {@code connection}. */
    ClientRecord connected(String clientId, Object connection) {
        return records.compute(clientId, (id, r) -> {
            ClientRecord record = r == null ? new ClientRecord(id) : r;
            record.owner.set(connection);
            return record;
        });
    }

    /** Marks the client offline unless another connection has taken its id since. */
    static void disconnected(ClientRecord record, Object connection) {
        record.owner.compareAndSet(connection, null);
    }

    Optional<ClientInfo> client(String clientId) {
        ClientRecord r = records.get(clientId);
        return r == null ? Optional.empty() : Optional.of(r.snapshot());
    }

    List<ClientInfo> clients() {
        List<ClientInfo> out = new ArrayList<>(records.size());
        for (ClientRecord r : records.values()) {
            out.add(r.snapshot());
        }
        out.sort(Comparator.comparing(ClientInfo::clientId));
        return out;
    }

    /** Forgets the least recently seen disconnected clients beyond the limit. */
    void trim() {
        int excess = records.size() - maxRemembered;
        if (excess <= 0) {
            return;
        }
        records.values().stream()
                .filter(r -> r.owner.get() == null)
                .sorted(Comparator.comparingLong(r -> r.lastSeenMillis))
                .limit(excess)
                .forEach(r -> records.computeIfPresent(r.clientId, (id, current) -> current.owner.get() != null ? current : null));
    }
}
