package io.junction.server.telemetry;

import io.junction.server.Clients;
import io.junction.server.RunningServer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/** Telemetry end to end: real MQTT publishes and HTTP writes into one real server, read back over HTTP and WebSocket. */
class TelemetryEndToEndTest {

    private static final long MIN_MS = 60_000;

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(() -> Clients.config(dir, "always", """
            [telemetry]
            max_buckets = 100000
            """));

    private static JsonNode awaitSeries(String query, int points) {
        JsonNode[] found = new JsonNode[1];
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            TelemetryClients.Reply r = TelemetryClients.get(server.http(), query);
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            JsonNode series = r.json().get("series");
            assertThat(series).hasSize(1);
            assertThat(series.get(0).get("points")).hasSize(points);
            found[0] = series.get(0);
        });
        return found[0];
    }

    @Test
    void nestedJsonPublishedWithMosquittoIsQueryableByItsFlattenedFields() throws Exception {
        for (double t : new double[]{21.5, 22.0, 22.5}) {
            TelemetryClients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "dev1/env", "-m", "{\"env\":{\"temp\":" + t + ",\"hum\":40},\"ok\":true}");
        }
        JsonNode temp = awaitSeries("/api/telemetry/query?key=dev1.env&field=env.temp&fn=raw&from=-1h", 3);
        assertThat(temp.get("key").asText()).isEqualTo("dev1.env");
        assertThat(temp.get("tags").get("device").asText()).isEqualTo("dev1");
        assertThat(temp.get("type").asText()).isEqualTo("float");
        List<Double> values = new ArrayList<>();
        for (JsonNode p : temp.get("points")) {
            assertThat(p.get(0).asLong()).isCloseTo(System.currentTimeMillis(), within(60_000L));
            values.add(p.get(1).asDouble());
        }
        assertThat(values).containsExactly(21.5, 22.0, 22.5);

        JsonNode series = TelemetryClients.get(server.http(), "/api/telemetry/series?key=dev1.*").json().get("series");
        List<String> fields = new ArrayList<>();
        series.forEach(s -> fields.add(s.get("field").asText() + ":" + s.get("type").asText()));
        assertThat(fields).containsExactly("env.hum:float", "env.temp:float", "ok:boolean");

        JsonNode last = TelemetryClients.get(server.http(), "/api/telemetry/last?key=dev1.env&field=env.temp").json().get("series");
        assertThat(last).hasSize(1);
        assertThat(last.get(0).get("value").asDouble()).isEqualTo(22.5);

        TelemetryClients.Reply csv = TelemetryClients.get(server.http(), "/api/telemetry/query?key=dev1.env&field=env.temp&fn=raw&from=-1h",
                "Accept", "text/csv");
        assertThat(csv.contentType()).startsWith("text/csv");
        List<String> lines = csv.text().lines().toList();
        assertThat(lines.getFirst()).isEqualTo("key,tags,field,time,ts,value");
        assertThat(lines).hasSize(4);
        assertThat(lines.get(1)).startsWith("dev1.env,device=dev1,env.temp,").endsWith(",21.5");

        String metrics = TelemetryClients.get(server.http(), "/metrics").text();
        assertThat(metrics).contains("junction_telemetry_points_written_total{source=\"stream\"}")
                .contains("junction_telemetry_writer_lag").contains("junction_telemetry_store_bytes");
    }

    @Test
    void lineProtocolOverHttpStoresTheGoodLinesAndReportsEachBadOne() throws Exception {
        long base = (System.currentTimeMillis() / MIN_MS - 120) * MIN_MS;
        String body = "cpu,host=a,region=eu usage_idle=91.5,procs=12i " + base + "000000\n"
                + "cpu,host=a,region=eu usage_idle=oops " + (base + 1_000) + "000000\n"
                + "cpu,host=a,region=eu usage_idle=89.5,procs=13i " + (base + 2_000) + "000000\n"
                + "cpu,host=a,region=eu usage_idle=88 " + (base - 30L * 86_400_000) + "000000\n";
        TelemetryClients.Reply r = TelemetryClients.post(server.http(), "/api/telemetry/write", body);
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        JsonNode answer = r.json();
        assertThat(answer.get("error").asText()).isEqualTo("bad request");
        assertThat(answer.get("detail").asText()).startsWith("2 of 4 lines were not stored");
        assertThat(answer.get("lines")).hasSize(2);
        assertThat(answer.get("lines").get(0).get("line").asInt()).isEqualTo(2);
        assertThat(answer.get("lines").get(0).get("error").asText()).contains("invalid value 'oops'");
        assertThat(answer.get("lines").get(1).get("line").asInt()).isEqualTo(4);
        assertThat(answer.get("lines").get(1).get("error").asText()).contains("older than the raw retention (7d)");

        JsonNode idle = awaitSeries("/api/telemetry/query?key=cpu&field=usage_idle&fn=raw&tag.host=a&from=" + (base - 1) + "&to=" + (base + 5_000), 2);
        assertThat(idle.get("tags").get("region").asText()).isEqualTo("eu");
        assertThat(idle.get("points").get(0).get(0).asLong()).isEqualTo(base);
        assertThat(idle.get("points").get(1).get(1).asDouble()).isEqualTo(89.5);
        JsonNode procs = awaitSeries("/api/telemetry/query?key=cpu&field=procs&fn=raw&from=" + (base - 1) + "&to=" + (base + 5_000), 2);
        assertThat(procs.get("type").asText()).isEqualTo("integer");
        assertThat(procs.get("points").get(1).get(1).isIntegralNumber()).isTrue();

        // Seconds precision and the db parameter Telegraf's InfluxDB output adds: 204 and stored.
        TelemetryClients.Reply ok = TelemetryClients.post(server.http(), "/api/telemetry/write?db=telegraf&precision=s",
                "mem,host=a used=1024i " + (base / 1000 + 10) + "\n");
        assertThat(ok.status()).as(ok.text()).isEqualTo(204);
        JsonNode mem = awaitSeries("/api/telemetry/query?key=mem&field=used&fn=raw&from=" + base + "&to=" + (base + MIN_MS), 1);
        assertThat(mem.get("points").get(0).get(0).asLong()).isEqualTo(base + 10_000);
        assertThat(mem.get("points").get(0).get(1).asLong()).isEqualTo(1024);

        // The path InfluxDB 2.x client libraries write to, under the telemetry prefix.
        TelemetryClients.Reply v2 = TelemetryClients.post(server.http(), "/api/telemetry/api/v2/write?org=o&bucket=b&precision=ms",
                "mem,host=b used=2048i " + (base + 20_000));
        assertThat(v2.status()).as(v2.text()).isEqualTo(204);
        awaitSeries("/api/telemetry/query?key=mem&field=used&fn=raw&tag.host=b&from=" + base + "&to=" + (base + MIN_MS), 1);

        TelemetryClients.Reply badPrecision = TelemetryClients.post(server.http(), "/api/telemetry/write?precision=d", "m v=1");
        assertThat(badPrecision.status()).isEqualTo(400);
        assertThat(badPrecision.json().get("detail").asText()).contains("precision 'd' is not known");
    }

    @Test
    void bucketedMeansOverHttpMatchTheWrittenPoints() throws Exception {
        long base = (System.currentTimeMillis() / (10 * MIN_MS) - 18) * 10 * MIN_MS;
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            body.append("greenhouse.air,zone=1 temp=").append(i).append(' ').append(base + i * 10_000L).append('\n');
        }
        assertThat(TelemetryClients.post(server.http(), "/api/telemetry/write?precision=ms", body.toString()).status()).isEqualTo(204);
        String q = "/api/telemetry/query?key=greenhouse.air&field=temp&every=1m&from=" + base + "&to=" + (base + 10 * MIN_MS);
        JsonNode mean = awaitSeries(q + "&fn=mean", 10);
        JsonNode max = TelemetryClients.get(server.http(), q + "&fn=max").json().get("series").get(0);
        JsonNode count = TelemetryClients.get(server.http(), q + "&fn=count").json().get("series").get(0);
        JsonNode first = TelemetryClients.get(server.http(), q + "&fn=first").json().get("series").get(0);
        for (int m = 0; m < 10; m++) {
            // Minute m holds the values 6m .. 6m+5.
            assertThat(mean.get("points").get(m).get(0).asLong()).isEqualTo(base + m * MIN_MS);
            assertThat(mean.get("points").get(m).get(1).asDouble()).isEqualTo(6 * m + 2.5);
            assertThat(max.get("points").get(m).get(1).asDouble()).isEqualTo(6 * m + 5);
            assertThat(count.get("points").get(m).get(1).asLong()).isEqualTo(6);
            assertThat(first.get("points").get(m).get(1).asDouble()).isEqualTo(6 * m);
        }
        JsonNode sum = TelemetryClients.get(server.http(), q.replace("every=1m", "every=5m") + "&fn=sum").json().get("series").get(0);
        assertThat(sum.get("points").get(0).get(1).asDouble()).isEqualTo(435);   // 0 + 1 + ... + 29
    }

    @Test
    void devicesPublishingCborOnTelPAreStoredWithoutAnyMapping() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CBORGenerator g = new CBORFactory().createGenerator(bytes)) {
            g.writeStartObject();
            g.writeNumberField("rsrp", -97);
            g.writeObjectFieldStart("bat");
            g.writeNumberField("mv", 3711);
            g.writeEndObject();
            g.writeEndObject();
        }
        Path file = dir.resolve("tel.cbor");
        Files.write(file, bytes.toByteArray());
        TelemetryClients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "ab12/tel/p", "-f", file.toString());
        JsonNode rsrp = awaitSeries("/api/telemetry/query?key=ab12.tel.p&field=rsrp&fn=raw&from=-1h", 1);
        assertThat(rsrp.get("tags").get("device").asText()).isEqualTo("ab12");
        assertThat(rsrp.get("points").get(0).get(1).asDouble()).isEqualTo(-97);
        JsonNode mv = awaitSeries("/api/telemetry/query?key=ab12.tel.p&field=bat.mv&fn=raw&from=-1h", 1);
        assertThat(mv.get("points").get(0).get(1).asDouble()).isEqualTo(3711);
        // JSON on the same convention works too.
        TelemetryClients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "cd34/tel/p", "-m", "{\"rsrp\":-101}");
        awaitSeries("/api/telemetry/query?key=cd34.tel.p&field=rsrp&fn=raw&from=-1h", 1);
    }

    @Test
    void aWebSocketSubscriberReceivesNewPointsOfASeriesAsTheyArrive() throws Exception {
        try (Clients.Ws ws = new Clients.Ws(server.http())) {
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"telemetry.chart.#\",\"source\":\"events\"}");
            assertThat(ws.next("subscribed", 10)).isNotNull();
            TelemetryClients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "chart/line1", "-m", "{\"v\":1.5,\"env\":{\"t\":20}}");
            JsonNode frame = ws.next("event", 10);
            assertThat(frame).as("an event frame").isNotNull();
            assertThat(frame.get("key").asText()).isEqualTo("telemetry.chart.line1");
            JsonNode event = frame.get("event");
            assertThat(event.get("routingKey").asText()).isEqualTo("chart.line1");
            assertThat(event.get("tags").get("device").asText()).isEqualTo("chart");
            assertThat(event.get("fields").get("v").asDouble()).isEqualTo(1.5);
            assertThat(event.get("fields").get("env.t").asDouble()).isEqualTo(20);
            assertThat(event.get("ts").asLong()).isCloseTo(System.currentTimeMillis(), within(60_000L));
            assertThat(event.has("hubKey")).isFalse();

            // Line protocol points reach live subscribers too.
            TelemetryClients.post(server.http(), "/api/telemetry/write", "chart.line2 v=7i");
            JsonNode second = ws.next("event", 10);
            assertThat(second.get("key").asText()).isEqualTo("telemetry.chart.line2");
            assertThat(second.get("event").get("fields").get("v").asLong()).isEqualTo(7);
        }
    }

    @Test
    void queriesThatWouldExhaustMemoryOrAreMalformedGetClearErrors() throws Exception {
        TelemetryClients.mosquittoPub(server.mqtt(), "-q", "1", "-t", "big/range", "-m", "{\"v\":1}");
        awaitSeries("/api/telemetry/query?key=big.range&field=v&fn=raw&from=-1h", 1);
        TelemetryClients.Reply tooMany = TelemetryClients.get(server.http(), "/api/telemetry/query?key=big.range&field=v&every=1s&from=-30d");
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().get("error").asText()).isEqualTo("query refused");
        assertThat(tooMany.json().get("detail").asText()).contains("buckets of 1s").contains("more than the limit of 100000");

        String[][] cases = {
                {"/api/telemetry/query?key=big.range&every=1m", "field is required"},
                {"/api/telemetry/query?key=big.range&field=v&every=1m&fn=median", "fn 'median' is not known"},
                {"/api/telemetry/query?key=big.range&field=v&every=soon", "every: \"soon\" is not a length of time"},
                {"/api/telemetry/query?key=big.range&field=v", "every is required"},
                {"/api/telemetry/query?key=big.range&field=v&every=1m&from=yesterday", "from 'yesterday' is not a time"},
                {"/api/telemetry/query?key=big..range&field=v&every=1m", "key: invalid routing-key pattern"},
                {"/api/telemetry/query?key=big.range&field=v&fn=raw&limit=0", "limit must be a whole number"},
                {"/api/telemetry/query?key=big.range&field=v&every=1m&from=-1h&to=-2h", "the time range is empty"},
        };
        for (String[] c : cases) {
            TelemetryClients.Reply r = TelemetryClients.get(server.http(), c[0]);
            assertThat(r.status()).as(c[0]).isEqualTo(400);
            assertThat(r.json().get("error").asText()).as(c[0]).isEqualTo("bad request");
            assertThat(r.json().get("detail").asText()).as(c[0]).contains(c[1]);
        }
    }
}
