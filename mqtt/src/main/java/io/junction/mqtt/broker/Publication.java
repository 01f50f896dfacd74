package io.junction.mqtt.broker;

import io.netty.handler.codec.mqtt.MqttProperties;

/**
 * A message on its way to subscribers, shared (never modified) by every delivery of it.
 *
 * @param properties MQTT 5 properties forwarded to MQTT 5 subscribers (user properties, content type, ...)
 * @param origin the session that published it, for the no-local option; null for server and retained copies
 */
record Publication(String topic, byte[] payload, int qos, boolean retain, MqttProperties properties, Session origin) {

    /** The copy kept in the retained store: no origin, so it holds no session alive. */
    Publication forRetainedStore() {
        return origin == null ? this : new Publication(topic, payload, qos, true, properties, null);
    }
}
