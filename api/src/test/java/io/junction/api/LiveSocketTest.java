package io.junction.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class LiveSocketTest {

    private Fixture f;

    private Fixture start(int liveQueue) {
        f = new Fixture(liveQueue, 1024 * 1024, t -> { });
        return f;
    }

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static List<String> messageKeys(WsClient ws) {
        return ws.framesOfType("message").stream().map(m -> m.get("message").get("key").asText()).toList();
    }

    @Test
    void subscriberReceivesMatchingMessagesAndNotOthers() {
        start(64);
        try (WsClient ws = f.ws()) {
            ws.subscribe("bedroom.#");
            f.append("kitchen.light.brightness", "{\"value\":1}");
            f.append("bedroom.light.brightness", "{\"value\":255}");

            JsonNode frame = ws.awaitFrame(m -> m.path("type").asText().equals("message"));
            assertThat(frame.get("stream").asText()).isEqualTo("raw");
            JsonNode m = frame.get("message");
            assertThat(m.get("offset").asLong()).isEqualTo(1);
            assertThat(m.get("key").asText()).isEqualTo("bedroom.light.brightness");
            assertThat(m.get("kind").asText()).isEqualTo("status");
            assertThat(m.get("body")).isEqualTo(Json.object().put("value", 255));
            assertThat(messageKeys(ws)).containsExactly("bedroom.light.brightness");
        }
    }

    @Test
    void replyEchoesTheRequestsIdAndSource() {
        start(64);
        try (WsClient ws = f.ws()) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"plant.*\",\"id\":42}");
            JsonNode reply = ws.awaitFrame(x -> x.path("type").asText().equals("subscribed"));
            assertThat(reply).isEqualTo(Json.object().put("type", "subscribed").put("pattern", "plant.*").put("source", "raw").put("id", 42));
        }
    }

    @Test
    void unsubscribeStopsDelivery() {
        start(64);
        try (WsClient ws = f.ws()) {
            ws.subscribe("bedroom.#");
            ws.subscribe("fence");
            f.append("bedroom.light", "{\"value\":1}");
            ws.awaitFrame(x -> x.path("type").asText().equals("message"));

            ws.send("{\"op\":\"unsubscribe\",\"pattern\":\"bedroom.#\",\"id\":\"u1\"}");
            ws.awaitFrame(x -> x.path("type").asText().equals("unsubscribed") && x.path("id").asText().equals("u1"));
            f.append("bedroom.light", "{\"value\":2}");
            f.append("fence", "{\"value\":0}");
            ws.awaitFrame(x -> x.path("message").path("key").asText().equals("fence"));

            assertThat(messageKeys(ws)).containsExactly("bedroom.light", "fence");
        }
    }

    @Test
    void badFramesGetErrorFramesAndTheSocketKeepsWorking() {
        start(64);
        try (WsClient ws = f.ws()) {
            List<String> bad = List.of(
                    "not json",
                    "[1, 2]",
                    "{\"op\":\"jump\",\"pattern\":\"#\",\"id\":1}",
                    "{\"op\":\"subscribe\",\"pattern\":\"bed*room\",\"id\":2}",
                    "{\"op\":\"subscribe\",\"id\":3}",
                    "{\"op\":\"subscribe\",\"pattern\":\"#\",\"source\":\"nowhere\",\"id\":4}",
                    "{\"op\":\"subscribe\",\"pattern\":\"" + "x".repeat(70_000) + "\"}");
            for (String frame : bad) {
                ws.send(frame);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> ws.framesOfType("error").size() == bad.size());
            List<JsonNode> errors = ws.framesOfType("error");
            assertThat(errors).extracting(e -> e.get("error").asText())
                    .containsExactly("bad json", "bad frame", "unknown op", "bad pattern", "bad frame", "unknown source", "frame too large");
            assertThat(errors.get(2).get("id").asInt()).isEqualTo(1);
            assertThat(errors.get(3).get("detail").asText()).contains("bed*room");
            assertThat(errors.get(5).get("detail").asText()).contains("raw").contains("events");
            assertThat(errors).allSatisfy(e -> assertThat(e.get("detail").asText()).isNotBlank());
            assertThat(f.meter("junction.live.bad.frames")).isEqualTo(bad.size());

            ws.subscribe("bedroom.#");
            f.append("bedroom.light", "{\"value\":1}");
            ws.awaitFrame(x -> x.path("type").asText().equals("message"));
            assertThat(ws.closedByServer()).isFalse();
        }
    }

    @Test
    void hubEventsReachEventSubscribers() {
        start(64);
        try (WsClient ws = f.ws()) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"component.#\",\"source\":\"events\"}");
            ws.awaitFrame(x -> x.path("type").asText().equals("subscribed") && x.path("source").asText().equals("events"));
            f.hub.register("mqtt").failed("port 1883 is in use");

            JsonNode failed = ws.awaitFrame(x -> x.path("type").asText().equals("event") && x.path("key").asText().equals("component.failed"));
            assertThat(failed.get("event")).isEqualTo(Json.object()
                    .put("component", "mqtt").put("status", "FAILED").put("detail", "port 1883 is in use"));
            assertThat(ws.framesOfType("event")).extracting(e -> e.get("key").asText()).contains("component.starting");
            assertThat(ws.framesOfType("message")).isEmpty();
        }
    }

    @Test
    void closingASocketEndsItsSubscriptions() {
        start(64);
        WsClient ws = f.ws();
        ws.subscribe("#");
        assertThat(f.meter("junction.live.clients")).isEqualTo(1);
        ws.socket.sendClose(1000, "bye").join();
        await().atMost(Duration.ofSeconds(10)).until(() -> f.meter("junction.live.clients") == 0);
        f.append("bedroom.light", "{\"value\":1}");
        assertThat(f.meter("junction.live.queued")).isZero();
        ws.close();
    }

    @Test
    void stoppingTheServerClosesSocketsAsGoingAway() {
        start(64);
        try (WsClient ws = f.ws()) {
            ws.subscribe("#");
            f.server.close();
            await().atMost(Duration.ofSeconds(10)).until(ws::closedByServer);
            assertThat(ws.closeCode()).isEqualTo(1001);
        }
    }

    @Test
    void slowClientIsBoundedCountedAndResumesWithDroppedThenTheNewest() {
        int capacity = 16;
        start(capacity);
        try (WsClient slow = f.ws(); WsClient fast = f.ws()) {
            slow.subscribe("#");
            fast.subscribe("fast.#");
            slow.pause();

            // Big bodies fill the socket buffers between server and client quickly; after that the server's writes
            // wait, the client's queue fills, and the oldest are dropped.
            String filler = "{\"value\":\"" + "x".repeat(16 * 1024) + "\"}";
            int appended = 0;
            while (f.meter("junction.live.dropped") < 200 && appended < 20_000) {
                f.append("bedroom.camera.frame", filler);
                appended++;
                assertThat(f.meter("junction.live.queued")).isLessThanOrEqualTo(capacity);
            }
            assertThat(f.meter("junction.live.dropped")).as("drops after %d appends", appended).isGreaterThanOrEqualTo(200);

            // A slow client never holds up the others.
            f.append("fast.ping", "{\"value\":1}");
            fast.awaitFrame(x -> x.path("message").path("key").asText().equals("fast.ping"));

            f.append("bedroom.last", "{\"value\":\"newest\"}");
            int receivedWhilePaused = slow.frames.size();
            slow.resume();

            JsonNode last = slow.awaitFrame(x -> x.path("message").path("key").asText().equals("bedroom.last"));
            int dropIndex = -1;
            for (int i = 0; i < slow.frames.size(); i++) {
                if (slow.frames.get(i).path("type").asText().equals("dropped")) {
                    dropIndex = i;
                    break;
                }
            }
            assertThat(dropIndex).as("a dropped frame comes before the newest messages").isPositive();
            assertThat(slow.frames.get(dropIndex).get("count").asLong()).isPositive();
            assertThat(slow.frames.indexOf(last)).isGreaterThan(dropIndex);
            long droppedReported = slow.framesOfType("dropped").stream().mapToLong(d -> d.get("count").asLong()).sum();
            assertThat(droppedReported).isEqualTo((long) f.meter("junction.live.dropped"));
            assertThat(slow.framesOfType("message").size() + droppedReported).isEqualTo(appended + 2L);
            assertThat(receivedWhilePaused).isLessThan(appended);
            assertThat(f.get("/metrics").body()).containsPattern("junction_live_dropped_total [1-9]");
        }
    }
}
