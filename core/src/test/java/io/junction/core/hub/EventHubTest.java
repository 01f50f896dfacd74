package io.junction.core.hub;

import io.junction.core.RoutingKey;
import io.junction.core.RoutingPattern;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class EventHubTest {

    record Ping(String name) implements HubEvent {
        @Override
        public RoutingKey key() {
            return RoutingKey.of("ping." + name);
        }
    }

    @Test
    void subscribersGetOnlyEventsTheirPatternMatches() {
        try (EventHub hub = new EventHub(Clock.systemUTC())) {
            List<HubEvent> got = new CopyOnWriteArrayList<>();
            hub.subscribe(RoutingPattern.of("ping.a"), 16, got::add);
            hub.publish(new Ping("b"));
            hub.publish(new Ping("a"));
            await().until(() -> got.size() == 1);
            assertThat(got).containsExactly(new Ping("a"));
        }
    }

    @Test
    void componentsReportReadinessAndEachChangeIsAnEvent() {
        try (EventHub hub = new EventHub(Clock.systemUTC())) {
            List<HubEvent> got = new CopyOnWriteArrayList<>();
            hub.subscribe(RoutingPattern.of("component.#"), 16, got::add);
            EventHub.Registration mqtt = hub.register("mqtt");
            assertThat(hub.allReady()).isFalse();
            mqtt.ready();
            assertThat(hub.allReady()).isTrue();
            assertThat(hub.components()).extracting(ComponentState::status).containsExactly(ComponentState.Status.READY);
            assertThatThrownBy(() -> hub.register("mqtt")).hasMessageContaining("already registered");
            await().until(() -> got.size() == 2);
            assertThat(got).containsExactly(new ComponentEvent("mqtt", ComponentState.Status.STARTING, ""),
                    new ComponentEvent("mqtt", ComponentState.Status.READY, ""));
        }
    }
}
