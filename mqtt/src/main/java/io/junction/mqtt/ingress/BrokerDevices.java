package io.junction.mqtt.ingress;

import io.junction.core.device.DeviceDirectory;
import io.junction.core.device.DeviceInfo;
import io.junction.mqtt.broker.ClientInfo;
import io.junction.mqtt.broker.MqttBroker;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** The devices port on top of the broker's client registry: a device is listed by its uid. */
public final class BrokerDevices implements DeviceDirectory {

    private final MqttBroker broker;

    public BrokerDevices(MqttBroker broker) {
        this.broker = broker;
    }

    @Override
    public List<DeviceInfo> list() {
        return broker.clients().stream()
                .map(BrokerDevices::info)
                .sorted(Comparator.comparing(DeviceInfo::uid).thenComparing(DeviceInfo::clientId))
                .toList();
    }

    @Override
    public Optional<DeviceInfo> get(String uidOrClientId) {
        Optional<ClientInfo> byClient = broker.client(uidOrClientId);
        if (byClient.isPresent()) {
            return byClient.map(BrokerDevices::info);
        }
        return list().stream().filter(d -> d.uid().equals(uidOrClientId)).findFirst();
    }

    private static DeviceInfo info(ClientInfo c) {
        return new DeviceInfo(c.deviceUid(), c.clientId(), c.username(), c.connected(), c.connectedAtMillis(),
                c.lastSeenMillis(), c.messagesIn(), c.messagesOut(), c.bytesIn(), c.bytesOut(), c.remoteAddress(),
                c.protocolVersion());
    }
}
