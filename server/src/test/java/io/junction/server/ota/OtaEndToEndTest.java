package io.junction.server.ota;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;

import io.junction.core.config.JunctionConfig;
import io.junction.server.Clients;
import io.junction.server.RunningServer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * OTA end to end: one real server, real MQTT clients as devices (JSON and Pyrinas' CBOR), real HTTP downloads with
 * Range, and the WebSocket for the events.
 */
class OtaEndToEndTest {

    private static final CBORFactory CBOR = new CBORFactory();

    @TempDir
    static Path dir;

    @RegisterExtension
    static final RunningServer server = new RunningServer(OtaEndToEndTest::config);

    static Http http;

    static JunctionConfig config() throws Exception {
        KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        Path key = dir.resolve("ota-key.pem");
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(pair.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        return Clients.config(dir, "always", """
                [ota]
                max_image_bytes = 200000
                signing_key = "%s"
                chunk_bytes = 4096

                [ota.groups]
                "fleet-a" = ["grp-1", "grp-2"]
                """.formatted(key));
    }

    @BeforeAll
    static void start() {
        http = new Http(server.http());
    }

    static byte[] image(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String upload(byte[] image, String version, String target) throws Exception {
        Http.Reply r = http.upload("/api/ota/packages?version=" + version + "&target=" + target, image);
        assertThat(r.status()).as("upload of %s: %s", version, new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(201);
        return r.json().get("id").asText();
    }

    static String rollout(String json) throws Exception {
        Http.Reply r = http.post("/api/ota/rollouts", json);
        assertThat(r.status()).as("rollout: %s", new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(201);
        return r.json().get("id").asText();
    }

    /** A rollout of {@code pkg} to the one device {@code uid}; its id. */
    static String rolloutTo(String pkg, String uid) throws Exception {
        return rollout("{\"package\":\"" + pkg + "\",\"devices\":[\"" + uid + "\"]}");
    }

    static JsonNode deviceState(String rollout, String uid) throws Exception {
        for (JsonNode d : http.get("/api/ota/rollouts/" + rollout).json().get("devices")) {
            if (d.get("uid").asText().equals(uid)) {
                return d;
            }
        }
        throw new AssertionError("device " + uid + " is not in rollout " + rollout);
    }

    static void awaitState(String rollout, String uid, String state) {
        await().atMost(10, TimeUnit.SECONDS).untilAsserted(() ->
                assertThat(deviceState(rollout, uid).get("state").asText()).isEqualTo(state));
    }

    @Test
    void uploadAnswersTheChecksumAndRefusesDuplicateEmptyAndOversizedImages() throws Exception {
        byte[] img = image(10_000, 1);
        Http.Reply r = http.upload("/api/ota/packages?version=1.0.0%2B7&target=upload-model&notes=first", img);
        assertThat(r.status()).isEqualTo(201);
        assertThat(r.json().get("version").asText()).isEqualTo("1.0.0+7");
        assertThat(r.json().get("size").asLong()).isEqualTo(10_000);
        assertThat(r.json().get("sha256").asText()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(img)));
        assertThat(r.json().get("signature").asText()).isNotEmpty();

        Http.Reply dup = http.upload("/api/ota/packages?version=1.0.0%2B7&target=upload-model", image(500, 2));
        assertThat(dup.status()).isEqualTo(409);
        assertThat(dup.json().get("detail").asText()).contains("already exists");

        Http.Reply empty = http.upload("/api/ota/packages?version=1.0.1&target=upload-model", new byte[0]);
        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.json().get("detail").asText()).contains("empty");

        Http.Reply big = http.upload("/api/ota/packages?version=1.0.2&target=upload-model", image(200_001, 3));
        assertThat(big.status()).isEqualTo(413);
        assertThat(big.json().get("detail").asText()).contains("max_image_bytes");

        Http.Reply badVersion = http.upload("/api/ota/packages?version=1.x&target=upload-model", img);
        assertThat(badVersion.status()).isEqualTo(400);

        JsonNode list = http.get("/api/ota/packages").json().get("packages");
        assertThat(list.findValuesAsText("id")).contains(r.json().get("id").asText());
    }

    @Test
    void jsonDeviceResumesItsHttpDownloadWithRangeVerifiesTheImageAndEndsInstalled() throws Exception {
        byte[] img = image(100_000, 10);
        String pkg = upload(img, "1.1.0", "json-model");
        String ro = rolloutTo(pkg, "json-1");
        try (Events events = new Events(server.http()); OtaDevice dev = new OtaDevice("json-1", server.mqtt())) {
            dev.send("{\"type\":\"check\",\"version\":\"1.0.0\"}");
            JsonNode offer = dev.answer("offer");
            assertThat(offer.get("version").asText()).isEqualTo("1.1.0");
            assertThat(offer.get("size").asLong()).isEqualTo(img.length);
            String url = offer.get("url").asText();
            assertThat(url).startsWith("/ota/images/" + pkg);

            // The link drops after the first 40,000 bytes; the device resumes where it stopped.
            Http.Reply first = http.get(url, Map.of("Range", "bytes=0-39999"));
            assertThat(first.status()).isEqualTo(206);
            assertThat(first.header("content-range")).isEqualTo("bytes 0-39999/100000");
            String etag = first.header("etag");
            awaitState(ro, "json-1", "downloading");
            Http.Reply rest = http.get(url, Map.of("Range", "bytes=40000-", "If-Range", etag));
            assertThat(rest.status()).isEqualTo(206);
            assertThat(rest.header("content-range")).isEqualTo("bytes 40000-99999/100000");
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.write(first.body());
            all.write(rest.body());
            byte[] got = all.toByteArray();
            assertThat(got).isEqualTo(img);

            byte[] digest = MessageDigest.getInstance("SHA-256").digest(got);
            assertThat(HexFormat.of().formatHex(digest)).isEqualTo(offer.get("sha256").asText()).isEqualTo(rest.header("x-checksum-sha256"));
            JsonNode key = http.get("/api/ota/signing-key").json();
            PublicKey pub = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(key.get("publicKey").asText())));
            Signature verify = Signature.getInstance("Ed25519");
            verify.initVerify(pub);
            verify.update(digest);
            assertThat(verify.verify(Base64.getDecoder().decode(offer.get("signature").asText()))).as("signature verifies").isTrue();

            assertThat(http.get(url, Map.of("Range", "bytes=100000-")).status()).isEqualTo(416);

            dev.send("{\"type\":\"done\",\"version\":\"1.1.0\"}");
            awaitState(ro, "json-1", "installed");
            JsonNode rolloutView = http.get("/api/ota/rollouts/" + ro).json();
            assertThat(rolloutView.get("counts").get("installed").asInt()).isEqualTo(1);
            assertThat(http.get("/api/ota/devices/json-1").json().get("firmwareVersion").asText()).isEqualTo("1.1.0");
            // ... and on the device's own record.
            assertThat(http.get("/api/devices/json-1").json().get("firmwareVersion").asText()).isEqualTo("1.1.0");

            List<String> seen = events.keysFor("json-1", "ota.installed", 10);
            assertThat(seen).containsSubsequence("ota.offered", "ota.downloading", "ota.installed");
        }
    }

    @Test
    void pyrinasCborDeviceDownloadsTheWholeImageInChunksOverMqtt() throws Exception {
        byte[] img = image(30_001, 20);
        String pkg = upload(img, "2.3.4", "cbor-model");
        String ro = rolloutTo(pkg, "cbor-1");
        try (OtaDevice dev = new OtaDevice("cbor-1", server.mqtt())) {
            dev.send(cbor(Map.of(0, 0)));
            JsonNode offer = new com.fasterxml.jackson.databind.ObjectMapper(CBOR).readTree(dev.cborAnswer());
            assertThat(offer.get("0").asText()).isEqualTo(pkg);
            assertThat(offer.get("1").get("0").asInt()).isEqualTo(2);
            assertThat(offer.get("1").get("1").asInt()).isEqualTo(3);
            assertThat(offer.get("1").get("2").asInt()).isEqualTo(4);
            long size = offer.get("3").asLong();
            assertThat(size).isEqualTo(img.length);
            byte[] sha = offer.get("5").binaryValue();

            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int requests = 0;
            while (got.size() < size) {
                long start = got.size();
                dev.send(cbor(Map.of(0, 2, 1, pkg, 2, start, 3, Math.min(size, start + 4096))));
                JsonNode chunk = new com.fasterxml.jackson.databind.ObjectMapper(CBOR).readTree(dev.chunk());
                assertThat(chunk.get("0").asLong()).isEqualTo(start);
                byte[] data = chunk.get("2").binaryValue();
                assertThat(chunk.get("3").asInt()).isEqualTo(data.length);
                assertThat(chunk.get("1").asLong()).isEqualTo(start + data.length);
                got.write(data);
                requests++;
            }
            assertThat(requests).isEqualTo(8);
            assertThat(got.toByteArray()).isEqualTo(img);
            assertThat(MessageDigest.getInstance("SHA-256").digest(got.toByteArray())).isEqualTo(sha);
            awaitState(ro, "cbor-1", "downloading");

            dev.send(cbor(Map.of(0, 1, 1, pkg)));
            awaitState(ro, "cbor-1", "installed");
            assertThat(http.get("/api/ota/devices/cbor-1").json().get("encoding").asText()).isEqualTo("cbor");
        }
    }

    @Test
    void stagedRolloutOffersOnlyTheFirstStageUntilItAdvances() throws Exception {
        String pkg = upload(image(1000, 30), "1.0.0", "staged-model");
        String ro = rollout("{\"package\":\"" + pkg + "\",\"devices\":[\"st-1\",\"st-2\",\"st-3\",\"st-4\"],\"stages\":[50,100]}");
        JsonNode view = http.get("/api/ota/rollouts/" + ro).json();
        assertThat(view.get("stage").asInt()).isEqualTo(1);
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        for (JsonNode d : view.get("devices")) {
            (d.get("stage").asInt() == 1 ? first : second).add(d.get("uid").asText());
        }
        assertThat(first).hasSize(2);
        assertThat(second).hasSize(2);
        for (String uid : List.of("st-1", "st-2", "st-3", "st-4")) {
            try (OtaDevice dev = new OtaDevice(uid, server.mqtt())) {
                dev.send("{\"type\":\"check\"}");
                assertThat(dev.answer(first.contains(uid) ? "offer" : "none")).as(uid).isNotNull();
            }
        }
        assertThat(http.post("/api/ota/rollouts/" + ro + "/advance", "").json().get("stage").asInt()).isEqualTo(2);
        try (OtaDevice dev = new OtaDevice(second.getFirst(), server.mqtt())) {
            dev.send("{\"type\":\"check\"}");
            assertThat(dev.answer("offer").get("rollout").asText()).isEqualTo(ro);
        }
        assertThat(http.post("/api/ota/rollouts/" + ro + "/advance", "").status()).isEqualTo(409);
    }

    @Test
    void pausedRolloutOffersNothingUntilResumed() throws Exception {
        String pkg = upload(image(1000, 40), "1.0.0", "paused-model");
        String ro = rolloutTo(pkg, "pause-1");
        assertThat(http.post("/api/ota/rollouts/" + ro + "/pause", "").json().get("status").asText()).isEqualTo("paused");
        try (OtaDevice dev = new OtaDevice("pause-1", server.mqtt())) {
            dev.send("{\"type\":\"check\"}");
            assertThat(dev.answerText()).isEqualTo("{\"type\":\"none\"}");
            assertThat(deviceState(ro, "pause-1").get("state").asText()).isEqualTo("pending");
            http.post("/api/ota/rollouts/" + ro + "/resume", "");
            dev.send("{\"type\":\"check\"}");
            assertThat(dev.answer("offer").get("rollout").asText()).isEqualTo(ro);
        }
    }

    @Test
    void aDeviceReportingFailedShowsItsReason() throws Exception {
        String pkg = upload(image(1000, 50), "1.0.0", "failing-model");
        String ro = rolloutTo(pkg, "fail-1");
        try (OtaDevice dev = new OtaDevice("fail-1", server.mqtt())) {
            dev.send("{\"type\":\"check\"}");
            dev.answer("offer");
            dev.send("{\"type\":\"failed\",\"reason\":\"flash write error at 0x8000\"}");
            awaitState(ro, "fail-1", "failed");
            assertThat(deviceState(ro, "fail-1").get("reason").asText()).isEqualTo("flash write error at 0x8000");
            assertThat(http.get("/api/ota/rollouts/" + ro).json().get("counts").get("failed").asInt()).isEqualTo(1);

            dev.send("{\"type\":\"bogus\"}");
            JsonNode error = dev.answer("error");
            assertThat(error.get("detail").asText()).contains("unknown type");
        }
    }

    @Test
    void packageDeleteIsRefusedWhileARolloutUsesIt() throws Exception {
        String pkg = upload(image(1000, 60), "1.0.0", "delete-model");
        String ro = rolloutTo(pkg, "del-1");
        Http.Reply refused = http.delete("/api/ota/packages/" + pkg);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("detail").asText()).contains(ro);
        assertThat(http.post("/api/ota/rollouts/" + ro + "/cancel", "").json().get("status").asText()).isEqualTo("cancelled");
        assertThat(http.delete("/api/ota/packages/" + pkg).status()).isEqualTo(204);
        assertThat(http.get("/api/ota/packages/" + pkg).status()).isEqualTo(404);
        assertThat(http.get("/ota/images/" + pkg).status()).isEqualTo(404);
    }

    @Test
    void aConnectingDeviceGetsItsPendingOfferWithoutChecking() throws Exception {
        String pkg = upload(image(1000, 70), "1.0.0", "connect-model");
        String ro = rolloutTo(pkg, "conn-1");
        try (OtaDevice dev = new OtaDevice("conn-1", server.mqtt())) {
            JsonNode offer = dev.answer("offer");
            assertThat(offer.get("rollout").asText()).isEqualTo(ro);
        }
        assertThat(deviceState(ro, "conn-1").get("state").asText()).isEqualTo("offered");
    }

    @Test
    void aNewerDeviceIsNotDowngradedUnlessTheRolloutIsARollback() throws Exception {
        String pkg = upload(image(1000, 80), "1.5.0", "rollback-model");
        String ro = rolloutTo(pkg, "rb-1");
        try (OtaDevice dev = new OtaDevice("rb-1", server.mqtt())) {
            dev.send("{\"type\":\"check\",\"version\":\"2.0.0\"}");
            dev.answer("none");
            assertThat(deviceState(ro, "rb-1").get("state").asText()).isEqualTo("skipped");

            String back = rollout("{\"package\":\"" + pkg + "\",\"devices\":[\"rb-1\"],\"rollback\":true}");
            dev.send("{\"type\":\"check\",\"version\":\"2.0.0\"}");
            JsonNode offer = dev.answer("offer");
            assertThat(offer.get("rollout").asText()).isEqualTo(back);
        }
    }

    @Test
    void aLinkedGroupOffersThePackageToItsMembers() throws Exception {
        String pkg = upload(image(1000, 90), "3.0.0", "group-model");
        Http.Reply link = http.post("/api/ota/groups/fleet-a/link", "{\"package\":\"" + pkg + "\"}");
        assertThat(link.status()).isEqualTo(201);
        assertThat(link.json().get("counts").get("total").asInt()).isEqualTo(2);
        try (OtaDevice dev = new OtaDevice("grp-2", server.mqtt())) {
            dev.send("{\"type\":\"check\",\"version\":\"2.0.0\"}");
            JsonNode offer = dev.answer("offer");
            assertThat(offer.get("version").asText()).isEqualTo("3.0.0");
        }
        assertThat(http.get("/api/ota/groups/fleet-a").json().get("link").get("package").asText()).isEqualTo(pkg);
        assertThat(http.delete("/api/ota/groups/fleet-a/link").json().get("status").asText()).isEqualTo("cancelled");
    }

    @Test
    void badRolloutRequestsGetAClearError() throws Exception {
        Http.Reply noTarget = http.post("/api/ota/rollouts", "{\"package\":\"x\"}");
        assertThat(noTarget.status()).isEqualTo(400);
        assertThat(noTarget.json().get("detail").asText()).contains("exactly one of");
        Http.Reply badStages = http.post("/api/ota/rollouts", "{\"package\":\"x\",\"devices\":[\"a\"],\"stages\":[50,20]}");
        assertThat(badStages.status()).isEqualTo(400);
        Http.Reply unknownPackage = http.post("/api/ota/rollouts", "{\"package\":\"nope\",\"devices\":[\"a\"]}");
        assertThat(unknownPackage.status()).isEqualTo(400);
        assertThat(unknownPackage.json().get("detail").asText()).contains("no package nope");
    }

    static byte[] cbor(Map<Integer, Object> map) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CBORGenerator g = CBOR.createGenerator(out)) {
            g.writeStartObject();
            for (var e : new java.util.TreeMap<>(map).entrySet()) {
                g.writeFieldId(e.getKey());
                switch (e.getValue()) {
                    case Integer i -> g.writeNumber(i);
                    case Long l -> g.writeNumber(l);
                    case String s -> g.writeString(s);
                    default -> throw new IllegalArgumentException(e.getValue().toString());
                }
            }
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    /** A WebSocket subscribed to the hub's {@code ota.#} events. */
    static final class Events implements AutoCloseable {
        private final Clients.Ws ws;

        Events(int port) throws IOException, InterruptedException {
            ws = new Clients.Ws(port);
            ws.send("{\"op\":\"subscribe\",\"pattern\":\"ota.#\",\"source\":\"events\"}");
            if (ws.next("subscribed", 10) == null) {
                throw new AssertionError("no answer to the WebSocket subscription");
            }
        }

        /** The event keys for {@code device}, in order, up to and including {@code last}. */
        List<String> keysFor(String device, String last, int seconds) throws InterruptedException {
            List<String> keys = new ArrayList<>();
            JsonNode f;
            while ((f = ws.next("event", e -> e.path("event").path("device").asText().equals(device), seconds)) != null) {
                keys.add(f.get("key").asText());
                if (f.get("key").asText().equals(last)) {
                    break;
                }
            }
            return keys;
        }

        @Override
        public void close() {
            ws.close();
        }
    }
}
