package io.junction.mqtt.broker;

import io.netty.handler.codec.mqtt.MqttProperties;
import java.util.Optional;

/** The last will of a connection: published if it ends without a clean DISCONNECT. */
record Will(
        String topic,
        byte[] payload,
        int qos,
        boolean retain,
        MqttProperties properties,
        long delaySeconds,
        boolean payloadIsUtf8Declared,
        String clientId,
        Optional<String> username,
        String deviceUid) {
}
