package io.junction.api;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;
import io.junction.core.device.DeviceDirectory;
import io.junction.core.device.DeviceInfo;
import io.junction.core.egress.CommandSender;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** Small honest implementations of the ports the API reads; the real adapters are tested in their own modules. */
final class TestPorts {

    private TestPorts() {
    }

    static Message message(Clock clock, String key, String kind, String body) {
        return new Message(UUID.randomUUID().toString(), clock.millis(), "mesh/" + key.replace('.', '/'),
                RoutingKey.of(key), "b5ea3f", kind, body);
    }

    /** The last message of each key, in memory. */
    static final class Status implements StatusStore {
        private final Map<RoutingKey, Message> last = new TreeMap<>();
        private long next;

        @Override
        public synchronized void update(StreamEntry entry) {
            if (entry.offset() < next) {
                return;
            }
            last.put(entry.message().key(), entry.message());
            next = entry.offset() + 1;
        }

        @Override
        public synchronized Optional<Message> get(RoutingKey key) {
            return Optional.ofNullable(last.get(key));
        }

        @Override
        public synchronized List<Message> find(RoutingPattern pattern) {
            return last.values().stream().filter(m -> pattern.matches(m.key())).toList();
        }

        @Override
        public synchronized long nextOffset() {
            return next;
        }

        @Override
        public void close() {
        }
    }

    /** A fixed list of devices. */
    static final class Devices implements DeviceDirectory {
        final CopyOnWriteArrayList<DeviceInfo> devices = new CopyOnWriteArrayList<>();

        @Override
        public List<DeviceInfo> list() {
            return List.copyOf(devices);
        }

        @Override
        public Optional<DeviceInfo> get(String uidOrClientId) {
            return devices.stream().filter(d -> d.uid().equals(uidOrClientId) || d.clientId().equals(uidOrClientId)).findFirst();
        }
    }

    /** Sends to keys it has a mapping for by recording a command in the stream; refuses others as egress does. */
    static final class Commands implements CommandSender {
        private final MessageStream stream;
        private final Clock clock;
        final Map<RoutingKey, String> mapped = new ConcurrentHashMap<>();
        final CopyOnWriteArrayList<Message> sent = new CopyOnWriteArrayList<>();

        Commands(MessageStream stream, Clock clock) {
            this.stream = stream;
            this.clock = clock;
        }

        @Override
        public CompletableFuture<Message> send(RoutingKey key, String body) {
            String topic = mapped.get(key);
            if (topic == null) {
                return CompletableFuture.failedFuture(new IllegalArgumentException(
                        "no mapping sends to routing key '" + key + "': add the device to [mapping.devices]"));
            }
            Message m = new Message(UUID.randomUUID().toString(), clock.millis(), topic, key, "b5ea3f", Message.COMMAND, body);
            return stream.append(m).thenApply(offset -> {
                sent.add(m);
                return m;
            });
        }
    }
}
