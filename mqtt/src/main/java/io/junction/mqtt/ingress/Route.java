package io.junction.mqtt.ingress;

import io.junction.core.RoutingKey;

/** Where a device topic leads: the routing key, the device it is about, and the message kind. */
public record Route(RoutingKey key, String device, String kind) {
}
