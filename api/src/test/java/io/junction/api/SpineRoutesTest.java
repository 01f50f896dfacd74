package io.junction.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.device.DeviceInfo;
import io.junction.core.hub.EventHub;
import io.junction.core.stream.StreamEntry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class SpineRoutesTest {

    private Fixture f;

    @BeforeEach
    void start() {
        f = new Fixture();
    }

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void healthIs503WhileAComponentStartsAnd200WhenAllAreReady() {
        EventHub.Registration mqtt = f.hub.register("mqtt");
        f.hub.register("store").ready();

        HttpResponse<String> starting = f.get("/api/health");
        assertThat(starting.statusCode()).isEqualTo(503);
        JsonNode body = Fixture.json(starting);
        assertThat(body.get("status").asText()).isEqualTo("starting");
        assertThat(body.get("ready").asBoolean()).isFalse();
        assertThat(body.get("components")).hasSize(2);
        JsonNode first = body.get("components").get(0);
        assertThat(first.get("name").asText()).isEqualTo("mqtt");
        assertThat(first.get("status").asText()).isEqualTo("starting");
        assertThat(first.get("detail").asText()).isEmpty();
        assertThat(first.get("since").asLong()).isEqualTo(f.clock.millis());

        mqtt.ready();
        HttpResponse<String> ready = f.get("/api/health");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(Fixture.json(ready).get("status").asText()).isEqualTo("ok");
        assertThat(Fixture.json(ready).get("ready").asBoolean()).isTrue();
    }

    @Test
    void healthSaysFailingWithTheComponentsReason() {
        f.hub.register("mqtt").failed("port 1883 is in use");
        HttpResponse<String> r = f.get("/api/health");
        assertThat(r.statusCode()).isEqualTo(503);
        JsonNode body = Fixture.json(r);
        assertThat(body.get("status").asText()).isEqualTo("failing");
        assertThat(body.get("components").get(0).get("status").asText()).isEqualTo("failed");
        assertThat(body.get("components").get(0).get("detail").asText()).isEqualTo("port 1883 is in use");
    }

    @Test
    void devicesAreListedAndLookedUpByUid() {
        f.devices.devices.add(new DeviceInfo("b5ea3f", "client-1", Optional.of("gardener"), true, 1000, 2000, 3, 4, 50, 60, "10.0.0.7:5123", 5));
        f.devices.devices.add(new DeviceInfo("c0ffee", "client-2", Optional.empty(), false, 0, 0, 0, 0, 0, 0, "", 4));

        JsonNode list = Fixture.json(f.get("/api/devices"));
        assertThat(list.get("devices")).hasSize(2);
        JsonNode one = list.get("devices").get(0);
        assertThat(one.get("uid").asText()).isEqualTo("b5ea3f");
        assertThat(one.get("clientId").asText()).isEqualTo("client-1");
        assertThat(one.get("username").asText()).isEqualTo("gardener");
        assertThat(one.get("connected").asBoolean()).isTrue();
        assertThat(one.get("messagesIn").asLong()).isEqualTo(3);
        assertThat(one.get("remoteAddress").asText()).isEqualTo("10.0.0.7:5123");
        assertThat(list.get("devices").get(1).get("username").isNull()).isTrue();

        HttpResponse<String> byUid = f.get("/api/devices/c0ffee");
        assertThat(byUid.statusCode()).isEqualTo(200);
        assertThat(Fixture.json(byUid).get("clientId").asText()).isEqualTo("client-2");
    }

    @Test
    void unknownDeviceIs404() {
        HttpResponse<String> r = f.get("/api/devices/nobody");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(Fixture.json(r).get("detail").asText()).contains("nobody");
    }

    @Test
    void statusIsKeyedByRoutingKeyWithWholeMessages() {
        Message brightness = TestPorts.message(f.clock, "bedroom.light.brightness", Message.STATUS, "{\"value\":255}");
        Message kitchen = TestPorts.message(f.clock, "kitchen.light.brightness", Message.STATUS, "{\"value\":3}");
        f.status.update(new StreamEntry(0, brightness));
        f.status.update(new StreamEntry(1, kitchen));

        HttpResponse<String> r = f.get("/api/status?key=bedroom.%23");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode body = Fixture.json(r);
        assertThat(body.size()).isEqualTo(1);
        JsonNode m = body.get("bedroom.light.brightness");
        assertThat(m.get("id").asText()).isEqualTo(brightness.id());
        assertThat(m.get("ts").asLong()).isEqualTo(brightness.ts());
        assertThat(m.get("topic").asText()).isEqualTo(brightness.topic());
        assertThat(m.get("key").asText()).isEqualTo("bedroom.light.brightness");
        assertThat(m.get("device").asText()).isEqualTo("b5ea3f");
        assertThat(m.get("kind").asText()).isEqualTo("status");
        assertThat(m.get("body").toString()).isEqualTo("{\"value\":255}");
        assertThat(m.has("offset")).isFalse();

        assertThat(Fixture.json(f.get("/api/status")).size()).as("no pattern means every key").isEqualTo(2);
        assertThat(Fixture.json(f.get("/api/status?key=*.light.brightness")).size()).isEqualTo(2);
    }

    @Test
    void badStatusPatternIs400ExplainingPatterns() {
        HttpResponse<String> r = f.get("/api/status?key=bed*room");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Fixture.json(r).get("detail").asText()).contains("'key'").contains("'#'").contains("bedroom.#");
        assertThat(f.get("/api/status?key=").statusCode()).isEqualTo(400);
    }

    @Test
    void streamPagesFollowNextToTheEnd() {
        for (int i = 0; i < 5; i++) {
            f.append("plant.moisture", "{\"value\":" + i + "}");
        }
        List<Long> offsets = new ArrayList<>();
        long from = 0;
        for (int pages = 0; pages < 10; pages++) {
            JsonNode page = Fixture.json(f.get("/api/streams/raw?from=" + from + "&limit=2"));
            if (page.get("messages").isEmpty()) {
                assertThat(page.get("next").asLong()).isEqualTo(from);
                break;
            }
            for (JsonNode m : page.get("messages")) {
                offsets.add(m.get("offset").asLong());
                assertThat(m.get("body").get("value").asLong()).isEqualTo(m.get("offset").asLong());
            }
            assertThat(page.get("end").asLong()).isEqualTo(5);
            from = page.get("next").asLong();
        }
        assertThat(offsets).containsExactly(0L, 1L, 2L, 3L, 4L);
        assertThat(from).isEqualTo(5);

        JsonNode all = Fixture.json(f.get("/api/streams/raw"));
        assertThat(all.get("messages")).hasSize(5);
        assertThat(all.get("next").asLong()).isEqualTo(5);
    }

    @Test
    void streamFromAnIsoInstantStartsAtTheFirstMessageAtOrAfterIt() {
        f.append("plant.moisture", "{\"value\":1}");
        f.clock.advance(Duration.ofMinutes(10));
        f.append("plant.moisture", "{\"value\":2}");
        f.append("plant.moisture", "{\"value\":3}");

        JsonNode page = Fixture.json(f.get("/api/streams/raw?from=2026-11-23T10:05:00Z"));
        assertThat(page.get("messages")).hasSize(2);
        assertThat(page.get("messages").get(0).get("offset").asLong()).isEqualTo(1);
        assertThat(page.get("next").asLong()).isEqualTo(3);

        JsonNode later = Fixture.json(f.get("/api/streams/raw?from=2026-11-24T00:00:00Z"));
        assertThat(later.get("messages")).isEmpty();
        assertThat(later.get("next").asLong()).isEqualTo(3);
    }

    @Test
    void badFromOrLimitIs400NamingTheParameter() {
        for (String query : List.of("from=yesterday", "from=-1", "from=2026-13-01T00:00:00Z", "from=99999999999999999999")) {
            HttpResponse<String> r = f.get("/api/streams/raw?" + query);
            assertThat(r.statusCode()).as(query).isEqualTo(400);
            assertThat(Fixture.json(r).get("detail").asText()).as(query).contains("'from'");
        }
        for (String query : List.of("limit=0", "limit=ten", "limit=10001")) {
            HttpResponse<String> r = f.get("/api/streams/raw?" + query);
            assertThat(r.statusCode()).as(query).isEqualTo(400);
            assertThat(Fixture.json(r).get("detail").asText()).as(query).contains("'limit'").contains("10000");
        }
        assertThat(f.get("/api/streams/raw?limit=10000").statusCode()).isEqualTo(200);
    }

    @Test
    void unknownStreamIs404() {
        HttpResponse<String> r = f.get("/api/streams/processed");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(Fixture.json(r).get("detail").asText()).contains("processed").contains("raw");
    }

    @Test
    void commandIsSentAndAnsweredWithTheRecordedMessage() {
        f.commands.mapped.put(RoutingKey.of("bedroom.light.brightness"), "mesh/b5ea3f/42/M/command");
        HttpResponse<String> r = f.post("/api/commands", "{\"key\": \"bedroom.light.brightness\", \"body\": {\"value\": 0, \"ramp\": 1.50}}");
        assertThat(r.statusCode()).isEqualTo(202);
        JsonNode m = Fixture.json(r);
        assertThat(m.get("kind").asText()).isEqualTo("command");
        assertThat(m.get("key").asText()).isEqualTo("bedroom.light.brightness");
        assertThat(m.get("topic").asText()).isEqualTo("mesh/b5ea3f/42/M/command");
        assertThat(m.get("body").get("value").asInt()).isZero();
        assertThat(f.commands.sent).hasSize(1);
        assertThat(f.commands.sent.getFirst().body()).isEqualTo("{\"value\":0,\"ramp\":1.50}");
        assertThat(f.raw.endOffset()).isEqualTo(1);
    }

    @Test
    void commandWithABadBodyIs400SayingWhatIsExpected() {
        f.commands.mapped.put(RoutingKey.of("bedroom.light.brightness"), "mesh/b5ea3f/42/M/command");
        record Case(String body, String detail) {
        }
        for (Case c : List.of(
                new Case("not json", "not valid JSON"),
                new Case("[1, 2]", "must be a JSON object"),
                new Case("{\"body\": {\"value\": 0}}", "'key' is missing"),
                new Case("{\"key\": \"bedroom.light.brightness\"}", "'body' is missing"),
                new Case("{\"key\": \"bedroom.light.brightness\", \"body\": 0}", "'body' must be a JSON object"),
                new Case("{\"key\": 7, \"body\": {}}", "'key' must be a routing key"),
                new Case("{\"key\": \"bedroom..light\", \"body\": {}}", "invalid routing key"),
                new Case("{\"key\": \"bedroom.#\", \"body\": {}}", "only allowed in patterns"),
                new Case("{\"key\": \"bedroom.light.brightness\", \"body\": {}, \"qos\": 2}", "unknown field 'qos'"))) {
            HttpResponse<String> r = f.post("/api/commands", c.body);
            assertThat(r.statusCode()).as(c.body).isEqualTo(400);
            assertThat(Fixture.json(r).get("detail").asText()).as(c.body).contains(c.detail);
        }
        assertThat(f.commands.sent).isEmpty();
    }

    @Test
    void commandToAKeyWithoutMappingIs400WithTheSendersReason() {
        HttpResponse<String> r = f.post("/api/commands", "{\"key\": \"garage.door\", \"body\": {\"value\": \"open\"}}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Fixture.json(r).get("detail").asText()).contains("no mapping sends to routing key 'garage.door'");
    }

    @Test
    void commandOverTheBodyLimitIs413() {
        f.commands.mapped.put(RoutingKey.of("bedroom.light.brightness"), "mesh/b5ea3f/42/M/command");
        String huge = "{\"key\": \"bedroom.light.brightness\", \"body\": {\"value\": \"" + "x".repeat(1024 * 1024) + "\"}}";
        HttpResponse<String> r = f.post("/api/commands", huge);
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(Fixture.json(r).get("error").asText()).isEqualTo("payload too large");
        assertThat(f.commands.sent).isEmpty();
    }
}
