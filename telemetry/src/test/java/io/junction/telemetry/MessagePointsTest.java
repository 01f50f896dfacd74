package io.junction.telemetry;

import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Point;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class MessagePointsTest {

    private static final long TS = 1_767_225_600_123L;

    private static MessagePoints converter(TelemetrySettings.Strings strings, Set<String> tags, int maxFields) {
        return new MessagePoints(new Flattener(strings, tags, maxFields));
    }

    private static Message message(String topic, String key, String device, String body) {
        return new Message("id", TS, topic, RoutingKey.of(key), device, "status", body);
    }

    private static Map<String, Object> fields(MessagePoints.Result r) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        for (Point p : r.points()) {
            out.put(p.series().field(), p.value().toJava());
        }
        return out;
    }

    @Test
    void nestedJsonIsFlattenedIntoDottedFieldsWithTheDeviceAndKeyAndTime() {
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 100).convert(message("dev1/env",
                "dev1.env", "dev1", "{\"env\":{\"temp\":21.5,\"hum\":40},\"ok\":true,\"v\":[1,2],\"none\":null}"), 7);
        assertThat(fields(r)).isEqualTo(Map.of("env.temp", 21.5, "env.hum", 40.0, "ok", true, "v.0", 1.0, "v.1", 2.0));
        Point p = r.points().getFirst();
        assertThat(p.series().key().value()).isEqualTo("dev1.env");
        assertThat(p.series().tags().asMap()).isEqualTo(Map.of("device", "dev1"));
        assertThat(p.ts()).as("message time in ns plus the offset within the millisecond").isEqualTo(TS * 1_000_000 + 7);
    }

    @Test
    void stringsBecomeFieldsTagsOrNothingAsConfigured() {
        String body = "{\"state\":\"on\",\"room\":\"kitchen\",\"t\":20}";
        Message m = message("d/x", "d.x", "d", body);
        assertThat(fields(converter(TelemetrySettings.Strings.FIELD, Set.of(), 100).convert(m, 0)))
                .isEqualTo(Map.of("state", "on", "room", "kitchen", "t", 20.0));
        MessagePoints.Result tagged = converter(TelemetrySettings.Strings.FIELD, Set.of("room"), 100).convert(m, 0);
        assertThat(fields(tagged)).isEqualTo(Map.of("state", "on", "t", 20.0));
        assertThat(tagged.points().getFirst().series().tags().asMap()).isEqualTo(Map.of("device", "d", "room", "kitchen"));
        MessagePoints.Result allTags = converter(TelemetrySettings.Strings.TAG, Set.of(), 100).convert(m, 0);
        assertThat(fields(allTags)).isEqualTo(Map.of("t", 20.0));
        assertThat(allTags.points().getFirst().series().tags().asMap()).containsEntry("state", "on");
        assertThat(fields(converter(TelemetrySettings.Strings.DROP, Set.of(), 100).convert(m, 0))).isEqualTo(Map.of("t", 20.0));
    }

    @Test
    void aDeviceTelemetryCborMapIsDecodedFromItsBase64Body() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CBORGenerator g = new CBORFactory().createGenerator(bytes)) {
            g.writeStartObject();
            g.writeNumberField("rsrp", -97);
            g.writeNumberField("temp", 23.25f);
            g.writeObjectFieldStart("bat");
            g.writeNumberField("mv", 3711);
            g.writeEndObject();
            g.writeStringField("fw", "1.2.0");
            g.writeEndObject();
        }
        String body = "{\"value\":\"" + Base64.getEncoder().encodeToString(bytes.toByteArray()) + "\",\"encoding\":\"base64\"}";
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 100)
                .convert(message("ab12/tel/p", "ab12.tel.p", "ab12", body), 0);
        assertThat(fields(r)).isEqualTo(Map.of("rsrp", -97.0, "temp", 23.25, "bat.mv", 3711.0, "fw", "1.2.0"));
        assertThat(r.points().getFirst().series().tags().asMap()).isEqualTo(Map.of("device", "ab12"));
    }

    @Test
    void aBase64BodyOnAnotherTopicIsAStringNotCbor() {
        String body = "{\"value\":\"oWF0GBU=\",\"encoding\":\"base64\"}";
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 100)
                .convert(message("ab12/blob", "ab12.blob", "ab12", body), 0);
        assertThat(fields(r)).isEqualTo(Map.of("value", "oWF0GBU=", "encoding", "base64"));
    }

    @Test
    void undecodableCborIsReportedNotThrown() {
        String body = "{\"value\":\"" + Base64.getEncoder().encodeToString(new byte[]{(byte) 0xbf, 0x61}) + "\",\"encoding\":\"base64\"}";
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 100)
                .convert(message("ab12/tel/p", "ab12.tel.p", "ab12", body), 0);
        assertThat(r.undecodable()).isTrue();
        assertThat(r.points()).isEmpty();
    }

    @Test
    void fieldsBeyondTheLimitAreSkippedAndCounted() {
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 2)
                .convert(message("d/x", "d.x", "d", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}"), 0);
        assertThat(fields(r)).containsOnlyKeys("a", "b");
        assertThat(r.skipped()).isEqualTo(2);
    }

    @Test
    void onlyUidTelPTopicsFollowTheDeviceTelemetryConvention() {
        assertThat(MessagePoints.isDeviceTelemetry("ab12/tel/p")).isTrue();
        assertThat(MessagePoints.isDeviceTelemetry("ab12/tel/s")).isFalse();
        assertThat(MessagePoints.isDeviceTelemetry("ab12/tel/p/x")).isFalse();
        assertThat(MessagePoints.isDeviceTelemetry("a/b/tel/p")).isFalse();
        assertThat(MessagePoints.isDeviceTelemetry("/tel/p")).isFalse();
    }

    @Test
    void aPlainNumberBodyIsTheValueField() {
        MessagePoints.Result r = converter(TelemetrySettings.Strings.FIELD, Set.of(), 100)
                .convert(message("plant/7/soil", "plant.7.soil", "plant", "{\"value\":255}"), 0);
        assertThat(r.points()).singleElement().satisfies(p -> assertThat(p.value()).isEqualTo(FieldValue.of(255.0)));
    }
}
