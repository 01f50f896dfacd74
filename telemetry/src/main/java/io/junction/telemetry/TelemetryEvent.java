package io.junction.telemetry;

import com.fasterxml.jackson.annotation.JsonIgnore;

import io.junction.core.RoutingKey;
import io.junction.core.hub.HubEvent;

import java.util.Map;

/**
 * New points of one routing key and tag set at one time, published on the hub under {@code telemetry.<routing key>}
 * so that WebSocket clients can follow a series live ({@code {"op":"subscribe","pattern":"telemetry.bedroom.#",
 * "source":"events"}}) and draw charts.
 *
 * @param routingKey the series' routing key
 * @param ts         milliseconds since the epoch
 * @param fields     field name → value (Double, Long, Boolean or String)
 */
public record TelemetryEvent(String routingKey, Map<String, String> tags, long ts, Map<String, Object> fields,
                             @JsonIgnore RoutingKey hubKey) implements HubEvent {

    static final String PREFIX = "telemetry.";

    @Override
    public RoutingKey key() {
        return hubKey;
    }
}
