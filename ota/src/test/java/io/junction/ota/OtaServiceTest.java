package io.junction.ota;

import io.junction.core.testing.MemoryStream;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Ids;
import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateStore;
import io.junction.core.testing.ForwardingStateStore;
import io.junction.core.testing.MemoryStateStore;
import io.junction.core.testing.MutableClock;
import io.junction.ota.RolloutCommand.RolloutSpec;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The OTA actor on its own: an in-memory stream, a recording publisher and a clock the test moves. */
class OtaServiceTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final MemoryStream stream = new MemoryStream("raw");
    final EventHub hub = new EventHub(clock);
    final MemoryStateStore state = new MemoryStateStore(clock);
    final LinkedBlockingQueue<Map.Entry<String, byte[]>> published = new LinkedBlockingQueue<>();
    /** when set, the actor waits on it in its next publish: a stand-in for an actor that falls behind */
    volatile CountDownLatch publishHold;
    OtaService ota;

    OtaService start(OtaSettings settings) throws Exception {
        ota = OtaService.builder().settings(settings).clock(clock).hub(hub).raw(stream)
                .publisher((topic, payload, qos, retain) -> {
                    CountDownLatch hold = publishHold;
                    if (hold != null) {
                        try {
                            hold.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    published.add(Map.entry(topic, payload));
                    return CompletableFuture.completedFuture(1);
                })
                .metrics(new SimpleMeterRegistry()).state(state).dir(dir.resolve("ota")).start();
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
        String id = ota.rollouts.newId();
        ImageStore.Staged staged = ota.images.stage(id, new byte[size]);
        OtaPackage p = new OtaPackage(id, PackageVersion.parse(version), "m", "", size, staged.sha256Hex(), Optional.empty(), clock.millis());
        return ota.rollouts.addPackage(p, staged).get(10, TimeUnit.SECONDS).id();
    }

    String rollout(String pkg, List<String> devices) throws Exception {
        return ota.rollouts.createRollout(new RolloutSpec(pkg, new Rollout.Target(Rollout.TargetKind.DEVICES, devices, ""),
                new int[]{100}, false, false)).get(10, TimeUnit.SECONDS).get("id").asText();
    }

    /** A round trip through the actor: timers that were due when it was sent have fired once it is answered. */
    void settle() throws Exception {
        ota.rollouts.save().get(10, TimeUnit.SECONDS);
    }

    JsonNode rolloutView(String rollout) throws Exception {
        return ota.rollouts.rolloutView(rollout).get(10, TimeUnit.SECONDS);
    }

    void request(String uid, String json) {
        stream.append(new Message(Ids.next(clock.millis()), clock.millis(), uid + "/ota/p", RoutingKey.of(uid + ".ota.p"), uid,
                Message.STATUS, json));
    }

    /** Sends a check from {@code uid} and returns the type of its answer ("offer" or "none"). */
    String check(String uid) throws Exception {
        request(uid, "{\"type\":\"check\"}");
        return answer(uid + "/ota/s").get("type").asText();
    }

    /** Moves the clock on and waits until the rollouts have saved what they did about it. */
    void advance(Duration by) throws Exception {
        clock.advance(by);
        settle();
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

    String state(String rollout, String uid) throws Exception {
        for (JsonNode d : rolloutView(rollout).get("devices")) {
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
        assertThat(check("d1")).isEqualTo("offer");
        await().untilAsserted(() -> assertThat(state(ro, "d1")).isEqualTo("offered"));

        advance(Duration.ofSeconds(59));
        assertThat(state(ro, "d1")).isEqualTo("offered");
        advance(Duration.ofSeconds(2));
        assertThat(state(ro, "d1")).startsWith("failed: timeout: no download within 60 s");

        assertThat(check("d1")).isEqualTo("offer");
        await().untilAsserted(() -> assertThat(state(ro, "d1")).isEqualTo("offered"));
    }

    @Test
    void aStalledDownloadTimesOutAndAResumedOneComesBack() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 5000);
        String ro = rollout(pkg, List.of("d2"));
        check("d2");
        request("d2", "{\"type\":\"download\",\"id\":\"" + pkg + "\",\"start\":0,\"end\":100000}");
        JsonNode chunk = answer("d2/ota/s/d");
        assertThat(chunk.get("len").asInt()).as("a chunk is at most chunk_bytes").isEqualTo(1024);
        await().untilAsserted(() -> assertThat(state(ro, "d2")).isEqualTo("downloading"));

        advance(Duration.ofSeconds(121));
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
            assertThat(check("d3")).isEqualTo("offer");
            request("d3", "{\"type\":\"failed\",\"reason\":\"bad flash\"}");
        }
        assertThat(check("d3")).isEqualTo("none");
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
    void requestsSentWhileTheServiceWasDownAreReadEvenWhenNoneCameBefore() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        String ro = rollout(pkg, List.of("q1"));
        ota.close();

        request("q1", "{\"type\":\"check\"}");
        request("q1", "{\"type\":\"failed\",\"reason\":\"no power\"}");
        start(settings(3));
        await().untilAsserted(() -> assertThat(state(ro, "q1")).isEqualTo("failed: no power"));
        assertThat(published).isEmpty();
    }

    @Test
    void requestsThatOverflowTheQueueAreReadBackFromTheStreamInOrder() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        int devices = 5000;
        List<String> uids = java.util.stream.IntStream.range(0, devices).mapToObj(i -> "o" + i).toList();
        rollout(pkg, uids);
        // Hold the actor in its first answer so that the follower's queue (4096) overflows.
        CountDownLatch hold = new CountDownLatch(1);
        publishHold = hold;
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
        JsonNode view = ota.rollouts.createRollout(new RolloutSpec(pkg,
                new Rollout.Target(Rollout.TargetKind.DEVICES, uids, ""), new int[]{25, 100}, false, true)).get(10, TimeUnit.SECONDS);
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
        await().untilAsserted(() -> assertThat(rolloutView(ro).get("stage").asInt()).isEqualTo(2));
    }

    @Test
    void apiChangesAreInTheStatePortBeforeTheyAreAnsweredAndDeviceChangesWithinASecond() throws Exception {
        start(settings(3));
        String pkg = addPackage("1.0.0", 100);
        assertThat(state.get(OtaState.PACKAGES, pkg)).as("the package record, written before the upload was answered").isPresent();
        String ro = rollout(pkg, List.of("w1"));
        assertThat(state.get(OtaState.ROLLOUTS, ro)).isPresent();
        assertThat(state.get(OtaState.ENTRIES, ro + "/w1").orElseThrow().json()).contains("\"state\":\"PENDING\"");

        request("w1", "{\"type\":\"check\",\"version\":\"0.9.0\"}");
        answer("w1/ota/s");
        await().untilAsserted(() -> assertThat(state(ro, "w1")).isEqualTo("offered"));
        clock.advance(Duration.ofSeconds(1));
        await().untilAsserted(() -> {
            assertThat(state.get(OtaState.ENTRIES, ro + "/w1").orElseThrow().json()).contains("\"state\":\"OFFERED\"");
            assertThat(state.get(OtaState.DEVICES, "w1").orElseThrow().json()).contains("\"version\":\"0.9.0\"");
            assertThat(state.get(OtaState.OFFSETS, "raw").orElseThrow().json())
                    .as("the offset the written state covers").isEqualTo("{\"next\":" + stream.endOffset() + "}");
        });
    }

    @Test
    void aFailingStateWriteFailsTheApiCallInsteadOfLeavingItWaiting() throws Exception {
        FailingStore failing = new FailingStore(state);
        ota = OtaService.builder().settings(settings(3)).clock(clock).hub(hub).raw(stream)
                .publisher((topic, payload, qos, retain) -> CompletableFuture.completedFuture(1))
                .metrics(new SimpleMeterRegistry()).state(failing).dir(dir.resolve("ota")).start();
        String pkg = addPackage("1.0.0", 100);
        failing.fail = true;
        CompletableFuture<JsonNode> reply = ota.rollouts.createRollout(new RolloutSpec(pkg,
                new Rollout.Target(Rollout.TargetKind.DEVICES, List.of("x1"), ""), new int[]{100}, false, false)).thenApply(n -> n);
        assertThatThrownBy(() -> reply.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("the disk is full");
        failing.fail = false;
        settle();
        assertThat(state.list(OtaState.ROLLOUTS)).as("what was not written is written with the next change").hasSize(1);
    }

    @Test
    void theOldStateFileIsImportedOnceOnTheFirstStart() throws Exception {
        Path otaDir = dir.resolve("ota");
        Files.createDirectories(otaDir.resolve("images"));
        byte[] image = {1, 2, 3, 4};
        String sha = java.util.HexFormat.of().formatHex(ImageStore.sha256(image));
        Files.write(otaDir.resolve("images/aaaaaaaaaaaa.bin"), image);
        long t = Instant.parse("2025-12-01T00:00:00Z").toEpochMilli();
        // The format OtaService wrote to <data>/ota/state.json before the state port, field for field.
        String old = """
                {"format":1,"offset":2,
                 "packages":[{"id":"aaaaaaaaaaaa","version":"1.2.3+7","target":"model-x","notes":"first","size":4,
                              "sha256":"%s","signature":null,"createdAt":%d}],
                 "groups":{"lab":["d1","sensor-*"]},
                 "rollouts":[{"id":"bbbbbbbbbbbb","packageId":"aaaaaaaaaaaa","version":"1.2.3+7","targetKind":"DEVICES",
                              "targetDevices":["d1","d2"],"targetValue":"","stages":[100],"rollback":false,"autoAdvance":false,
                              "linkedGroup":"","createdAt":%d,"stage":0,"status":"ACTIVE","updatedAt":%d,
                              "entries":[{"uid":"d1","stage":0,"state":"INSTALLED","reason":"","attempts":1,"bytes":4,"updatedAt":%d,"activityAt":%d},
                                         {"uid":"d2","stage":0,"state":"OFFERED","reason":"","attempts":1,"bytes":0,"updatedAt":%d,"activityAt":%d}]}],
                 "devices":[{"uid":"d1","version":"1.2.3+7","versionAt":%d,"encoding":"CBOR","seenAt":%d},
                            {"uid":"d2","version":null,"versionAt":0,"encoding":"JSON","seenAt":%d}]}
                """.formatted(sha, t, t, t, t, t, t, t, t, t, t);
        Files.writeString(otaDir.resolve("state.json"), old);
        // Offsets 0 and 1 are covered by the file; 2 is not, and is applied (not answered) on start.
        request("d3", "{\"type\":\"check\",\"version\":\"0.1.0\"}");
        request("d3", "{\"type\":\"check\"}");
        request("d2", "{\"type\":\"failed\",\"reason\":\"flash error\"}");

        start(settings(3));
        assertThat(Files.exists(otaDir.resolve("state.json"))).isFalse();
        assertThat(Files.readString(otaDir.resolve("state.json.imported"))).isEqualTo(old);
        JsonNode pkg = ota.catalogue().packageJson("aaaaaaaaaaaa");
        assertThat(pkg.get("version").asText()).isEqualTo("1.2.3+7");
        assertThat(pkg.get("sha256").asText()).isEqualTo(sha);
        assertThat(pkg.get("rollouts").get(0).get("id").asText()).isEqualTo("bbbbbbbbbbbb");
        assertThat(ota.images.bytes("aaaaaaaaaaaa")).isEqualTo(image);
        JsonNode lab = ota.catalogue().groupJson("lab");
        assertThat(lab.get("source").asText()).isEqualTo("api");
        assertThat(lab.get("devices").toString()).isEqualTo("[\"d1\",\"sensor-*\"]");
        assertThat(state("bbbbbbbbbbbb", "d1")).isEqualTo("installed");
        await().untilAsserted(() -> assertThat(state("bbbbbbbbbbbb", "d2")).isEqualTo("failed: flash error"));
        assertThat(ota.deviceFacts("d1")).containsEntry("firmwareVersion", "1.2.3+7");
        assertThat(ota.rollouts.deviceView("d1").get(10, TimeUnit.SECONDS).get("encoding").asText()).isEqualTo("cbor");
        assertThat(ota.deviceFacts("d3")).as("requests the old file covered are not read again").isEmpty();
        assertThat(published).as("nor answered").isEmpty();
        assertThat(state.list(OtaState.PACKAGES)).hasSize(1);
        assertThat(state.list(OtaState.ENTRIES)).hasSize(2);

        // Imported once: a state file that shows up again is ignored, and the state port's copy is what restarts see.
        ota.close();
        Files.writeString(otaDir.resolve("state.json"), old.replace("aaaaaaaaaaaa", "cccccccccccc"));
        start(settings(3));
        assertThat(ota.catalogue().allPackages()).extracting(OtaPackage::id).containsExactly("aaaaaaaaaaaa");
        assertThat(state("bbbbbbbbbbbb", "d2")).isEqualTo("failed: flash error");
        assertThat(Files.exists(otaDir.resolve("state.json"))).isTrue();
    }

    @Test
    void listingsKeepTheirOrderAcrossARestart() throws Exception {
        start(settings(3));
        List<String> pkgs = List.of(addPackage("3.0.0", 10), addPackage("1.0.0", 10), addPackage("2.0.0", 10));
        List<String> ros = List.of(rollout(pkgs.get(0), List.of("z", "a", "m")), rollout(pkgs.get(1), List.of("q")));
        for (String uid : List.of("z", "a", "m")) {
            request(uid, "{\"type\":\"check\"}");
        }
        await().untilAsserted(() -> assertThat(ota.rollouts.devicesView().get().get("devices")).hasSize(3));
        JsonNode devicesBefore = ota.rollouts.devicesView().get();
        JsonNode rolloutBefore = rolloutView(ros.get(0));
        ota.close();

        start(settings(3));
        assertThat(ota.catalogue().allPackages()).extracting(OtaPackage::id).containsExactlyElementsOf(pkgs);
        assertThat(ota.rollouts.rolloutsView().get().findValuesAsText("id")).containsSubsequence(ros);
        assertThat(rolloutView(ros.get(0)).get("devices")).isEqualTo(rolloutBefore.get("devices"));
        assertThat(ota.rollouts.devicesView().get()).isEqualTo(devicesBefore);
    }

    /** The state port with writes that fail while {@code fail} is set, as a full disk would make them. */
    static final class FailingStore extends ForwardingStateStore {
        volatile boolean fail;

        FailingStore(StateStore inner) {
            super(inner);
        }

        @Override
        protected void beforeWrite() {
            if (fail) {
                throw new IllegalStateException("the disk is full");
            }
        }

        /** The inner store belongs to the test, which closes it. */
        @Override
        public void close() {
        }
    }
}
