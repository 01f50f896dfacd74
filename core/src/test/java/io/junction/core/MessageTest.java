package io.junction.core;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MessageTest {

    @Test
    void bodyMustBeAJsonObjectAndKindLowerCase() {
        assertThatThrownBy(() -> new Message("1", 0, "t", RoutingKey.of("t"), "", "status", "255"))
                .hasMessageContaining("JSON object");
        assertThatThrownBy(() -> new Message("1", 0, "t", RoutingKey.of("t"), "", "Status", "{}"))
                .hasMessageContaining("kind");
    }

    @Test
    void messageJsonHasEveryEnvelopeFieldAndTheBodyAsJson() throws Exception {
        Message m = new Message("id-1", 1234, "mesh/b5ea3f/42/M/status", RoutingKey.of("bedroom.light.brightness"),
                "mesh/b5ea3f/42", "status", "{\"value\":255}");
        JsonNode json = Json.parse(Json.messageToJson(m, 7));
        assertThat(json.get("offset").asLong()).isEqualTo(7);
        assertThat(json.get("id").asText()).isEqualTo("id-1");
        assertThat(json.get("ts").asLong()).isEqualTo(1234);
        assertThat(json.get("topic").asText()).isEqualTo("mesh/b5ea3f/42/M/status");
        assertThat(json.get("key").asText()).isEqualTo("bedroom.light.brightness");
        assertThat(json.get("kind").asText()).isEqualTo("status");
        assertThat(json.get("body").get("value").asInt()).isEqualTo(255);
        assertThat(Json.parse(Json.messageToJson(m, -1)).has("offset")).isFalse();
    }

    @Test
    void idsAreVersion7UuidsCarryingTheirTime() {
        UUID id = UUID.fromString(Ids.next(1_700_000_000_000L));
        assertThat(id.version()).isEqualTo(7);
        assertThat(id.getMostSignificantBits() >>> 16).isEqualTo(1_700_000_000_000L);
        assertThat(Ids.next(5)).isNotEqualTo(Ids.next(5));
    }
}
