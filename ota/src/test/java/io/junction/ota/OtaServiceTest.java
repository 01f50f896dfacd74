package io.junction.ota;

import io.junction.core.testing.MemoryStream;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Ids;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.hub.EventHub;
import io.junction.core.testing.MutableClock;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The OTA actor on its own: an in-memory stream, a recording publisher and a clock the test moves. */
class OtaServiceTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final MemoryStream stream = new MemoryStream("raw");
    final EventHub hub = new EventHub(clock);
    final LinkedBlockingQueue<Map.Entry<String, byte[]>> published = new LinkedBlockingQueue<>();
    OtaService ota;

    OtaService start(OtaSettings settings) throws Exception {
        ota = OtaService.builder().settings(settings).clock(clock).hub(hub).raw(stream)
                .publisher((topic, payload, qos, retain) -> {
                    published.add(Map.entry(topic, payload));
                    return CompletableFuture.completedFuture(1);
                })
                .metrics(new SimpleMeterRegistry()).dir(dir.resolve("ota")).start();
        return ota;
    }

    static OtaSettings settings(int maxAttempts) {
        OtaSettings d = OtaSettings.defaults();
        return new OtaSettings(d.maxImageBytes(), Optional.empty(), Optional.empty(), 60, 120, 1024, maxAttempts, "",
                d.imageCacheBytes(), Map.of());
    }

    @AfterEach
    void stop() {
        if (ota != null) {
            ota.close();
        }
        hub.close();
    }

    String addPackage(String version, int size) throws Exception {
        String id = ota.newId();
        ImageStore.Staged staged = ota.images.stage(id, new byte[size]);
        OtaPackage p = new OtaPackage(id, PackageVersion.parse(version), "m", "", size, staged.sha256Hex(), Optional.empty(), clock.millis());
        return ota.ask(() -> ota.commitPackage(p, staged)).id();
    }

    String rollout(String pkg, List<String> devices) {
        return ota.ask(() -> ota.createRollout(new OtaService.RolloutSpec(pkg, new Rollout.Target(Rollout.TargetKind.DEVICES, devices, ""),
                new int[]{100}, false, false))).get("id").asText();
    }

    void request(String uid, String json) {
        stream.append(new Message(Ids.next(clock.millis()), clock.millis(), uid + "/ota/p", RoutingKey.of(uid + ".ota.p"), uid,
                Message.STATUS, json));
    }

    JsonNode answer(String topic) throws Exception {
        while (true) {
            Map.Entry<String, byte[]> e = published.poll(10, TimeUnit.SECONDS);
            assertThat(e).as("an answer on " + topic).isNotNull();
            if (e.getKey().equals(topic)) {
                return Json.MAPPER.readTree(new String(e.getValue(), StandardCharsets.UTF_8));
            }
        }
    }

    String state(String rollout, String uid) {
        for (JsonNode d : ota.ask(() -> ota.rolloutJson(rollout)).get("devices")) {
            if (d.get("uid").asText().equals(uid)) {
                return d.get("state").asText() + (d.has("reason") ? ": " + d.get("reason").asText() : "");
            }
        }
        throw new AssertionError(uid + " not in " + rollout);
    }

    @Test
    void anOfferedDeviceThatNeverDownloadsTimesOutToFailedAndIsOfferedAgainWhenItChecks() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        String ro = rollout(pkg, List.of("d1"));
        request("d1", "{\"type\":\"check\"}");
        assertThat(answer("d1/ota/s").get("type").asText()).isEqualTo("offer");
        await().untilAsserted(() -> assertThat(state(ro, "d1")).isEqualTo("offered"));

        clock.advance(Duration.ofSeconds(59));
        ota.tickNow();
        assertThat(state(ro, "d1")).isEqualTo("offered");
        clock.advance(Duration.ofSeconds(2));
        ota.tickNow();
        assertThat(state(ro, "d1")).startsWith("failed: timeout: no download within 60 s");

        request("d1", "{\"type\":\"check\"}");
        assertThat(answer("d1/ota/s").get("type").asText()).isEqualTo("offer");
        await().untilAsserted(() -> assertThat(state(ro, "d1")).isEqualTo("offered"));
    }

    @Test
    void aStalledDownloadTimesOutAndAResumedOneComesBack() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 5000);
        String ro = rollout(pkg, List.of("d2"));
        request("d2", "{\"type\":\"check\"}");
        answer("d2/ota/s");
        request("d2", "{\"type\":\"download\",\"id\":\"" + pkg + "\",\"start\":0,\"end\":100000}");
        JsonNode chunk = answer("d2/ota/s/d");
        assertThat(chunk.get("len").asInt()).as("a chunk is at most chunk_bytes").isEqualTo(1024);
        await().untilAsserted(() -> assertThat(state(ro, "d2")).isEqualTo("downloading"));

        clock.advance(Duration.ofSeconds(121));
        ota.tickNow();
        assertThat(state(ro, "d2")).startsWith("failed: timeout: no download activity for 120 s");

        request("d2", "{\"type\":\"download\",\"id\":\"" + pkg + "\",\"start\":1024,\"end\":2048}");
        assertThat(answer("d2/ota/s/d").get("start").asLong()).isEqualTo(1024);
        await().untilAsserted(() -> assertThat(state(ro, "d2")).isEqualTo("downloading"));
    }

    @Test
    void aFailingDeviceIsOfferedAtMostMaxAttemptsTimes() throws Exception {
        start(settings(2));
        String pkg = addPackage("1.0.0", 100);
        String ro = rollout(pkg, List.of("d3"));
        for (int i = 0; i < 2; i++) {
            request("d3", "{\"type\":\"check\"}");
            assertThat(answer("d3/ota/s").get("type").asText()).isEqualTo("offer");
            request("d3", "{\"type\":\"failed\",\"reason\":\"bad flash\"}");
        }
        request("d3", "{\"type\":\"check\"}");
        assertThat(answer("d3/ota/s").get("type").asText()).isEqualTo("none");
        assertThat(state(ro, "d3")).isEqualTo("failed: bad flash");
    }

    @Test
    void rolloutsAndDeviceStatesSurviveARestart() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        String ro = rollout(pkg, List.of("d4", "d5"));
        request("d4", "{\"type\":\"check\",\"version\":\"0.9.0\"}");
        answer("d4/ota/s");
        request("d4", "{\"type\":\"done\",\"version\":\"1.0.0\"}");
        await().untilAsserted(() -> assertThat(state(ro, "d4")).isEqualTo("installed"));
        ota.close();

        // A report that arrives while the service is down is read from the stream when it starts again.
        request("d5", "{\"type\":\"check\"}");
        request("d5", "{\"type\":\"failed\",\"reason\":\"no space\"}");
        start(settings(3));
        assertThat(state(ro, "d4")).isEqualTo("installed");
        assertThat(ota.deviceFacts("d4")).containsEntry("firmwareVersion", "1.0.0");
        await().untilAsserted(() -> assertThat(state(ro, "d5")).isEqualTo("failed: no space"));
        assertThat(published).as("requests read again after a restart are not answered again").isEmpty();
    }

    @Test
    void requestsThatOverflowTheQueueAreReadBackFromTheStreamInOrder() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        int devices = 5000;
        List<String> uids = java.util.stream.IntStream.range(0, devices).mapToObj(i -> "o" + i).toList();
        rollout(pkg, uids);
        // Hold the actor so that the tap's queue (4096) overflows.
        CountDownLatch hold = new CountDownLatch(1);
        Thread.ofVirtual().start(() -> ota.ask(() -> {
            try {
                hold.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return null;
        }));
        Thread.sleep(100);
        for (String uid : uids) {
            request(uid, "{\"type\":\"check\"}");
        }
        hold.countDown();
        int offers = 0;
        for (int i = 0; i < devices; i++) {
            Map.Entry<String, byte[]> e = published.poll(20, TimeUnit.SECONDS);
            assertThat(e).as("answer " + i).isNotNull();
            assertThat(e.getKey()).isEqualTo("o" + i + "/ota/s");
            offers++;
        }
        assertThat(offers).isEqualTo(devices);
    }

    @Test
    void anAutoStagedRolloutAdvancesWhenItsFirstStageIsInstalled() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        List<String> uids = List.of("s1", "s2", "s3", "s4");
        JsonNode view = ota.ask(() -> ota.createRollout(new OtaService.RolloutSpec(pkg,
                new Rollout.Target(Rollout.TargetKind.DEVICES, uids, ""), new int[]{25, 100}, false, true)));
        String ro = view.get("id").asText();
        String first = null;
        for (JsonNode d : view.get("devices")) {
            if (d.get("stage").asInt() == 1) {
                first = d.get("uid").asText();
            }
        }
        assertThat(first).isNotNull();
        String installed = first;
        request(first, "{\"type\":\"done\",\"version\":\"1.0.0\"}");
        await().untilAsserted(() -> assertThat(state(ro, installed)).isEqualTo("installed"));
        ota.tickNow();
        assertThat(ota.ask(() -> ota.rolloutJson(ro)).get("stage").asInt()).isEqualTo(2);
    }
}
