package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static io.junction.server.media.MediaTools.get;
import static io.junction.server.media.MediaTools.http;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Workflows that would hand a stream round in a circle: forwards that close a loop are refused when they are defined
 * (through the API), and a loop that only forms at run time (pushes back to the server's own RTMP port under growing
 * stream names) is stopped once, with the workflow failed and the reason, instead of multiplying ffmpeg processes.
 */
class ForwardLoopTest {

    @TempDir
    static Path dir;

    static Junction node;
    static int http;
    static int rtmp;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"

                [ffmpeg]
                restart_min_ms = 200
                restart_max_ms = 2000
                """));
        http = node.httpPort();
        rtmp = get(http, "/api/media").json().path("rtmp").path("port").asInt();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    private static MediaTools.Reply put(String name, String steps) throws Exception {
        return http("PUT", http, "/api/workflows/" + name, "{\"steps\": [" + steps + "]}");
    }

    @Test
    void forwardsThatCloseALoopAreRefusedNamingItAndTheStreamStillFlowsOnce() throws Exception {
        assertThat(put("fa", """
                {"type": "rtmp_receive", "app": "fa"}, {"type": "forward_to_workflow", "workflow": "fb"}""").status()).isEqualTo(201);
        MediaTools.Reply loop = put("fb", """
                {"type": "rtmp_watch", "app": "fbwatch"}, {"type": "forward_to_workflow", "workflow": "fa"}""");
        assertThat(loop.status()).as(loop.text()).isEqualTo(409);
        assertThat(loop.json().path("error").asText()).isEqualTo("conflict");
        assertThat(loop.json().path("detail").asText()).startsWith("workflow 'fb' forwards to 'fa', which forwards back to 'fb'");
        assertThat(get(http, "/api/workflows/fb").status()).as("nothing was created").isEqualTo(404);

        // Without the way back it is fine; an update that would add it is refused and leaves the workflow as it was.
        assertThat(put("fb", """
                {"type": "rtmp_watch", "app": "fbwatch"}""").status()).isEqualTo(201);
        MediaTools.Reply update = put("fb", """
                {"type": "rtmp_watch", "app": "fbwatch"}, {"type": "forward_to_workflow", "workflow": "fa"}""");
        assertThat(update.status()).as(update.text()).isEqualTo(409);
        assertThat(get(http, "/api/workflows/fb").json().path("steps")).hasSize(1);

        // A longer loop, and one whose last link is a workflow that does not exist yet.
        assertThat(put("x1", "{\"type\": \"forward_to_workflow\", \"workflow\": \"x2\"}").status()).isEqualTo(201);
        assertThat(put("x2", "{\"type\": \"forward_to_workflow\", \"workflow\": \"x3\"}").status()).isEqualTo(201);
        MediaTools.Reply longer = put("x3", "{\"type\": \"forward_to_workflow\", \"workflow\": \"x1\"}");
        assertThat(longer.status()).isEqualTo(409);
        assertThat(longer.json().path("detail").asText())
                .startsWith("workflow 'x3' forwards to 'x1', which forwards to 'x2', which forwards back to 'x3'");
        MediaTools.Reply self = put("x4", "{\"type\": \"forward_to_workflow\", \"workflow\": \"x4\"}");
        assertThat(self.status()).isEqualTo(400);
        assertThat(self.json().path("detail").asText()).contains("a workflow cannot forward to itself");

        // A publish through fa reaches fb once, and both let go of it when the publisher stops.
        Process pub = MediaTools.publish("rtmp://127.0.0.1:" + rtmp + "/fa/cam", 4, dir.resolve("logs/fa.log"));
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> packets("fb", "cam") > 10);
            assertThat(pub.waitFor()).isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> streams("fa") == 0 && streams("fb") == 0);
        } finally {
            kill(pub);
        }
    }

    private static long packets(String workflow, String stream) throws Exception {
        for (JsonNode s : get(http, "/api/workflows/" + workflow).json().path("streams")) {
            if (s.path("name").asText().equals(stream)) {
                return s.path("packets").asLong();
            }
        }
        return 0;
    }

    private static int streams(String workflow) throws Exception {
        return get(http, "/api/workflows/" + workflow).json().path("streams").size();
    }

    @Test
    void aLoopThroughPushesToTheServerItselfIsStoppedOnceWithTheWorkflowFailed() throws Exception {
        // pa pushes cam to pb, pb pushes it back to pa as cam_x, pa pushes that to pb, ... Each definition alone is
        // fine, and nothing in them says that the URLs lead back: the loop only shows at run time.
        assertThat(put("pa", """
                {"type": "rtmp_receive", "app": "pa"},
                {"type": "ffmpeg_push", "url": "rtmp://127.0.0.1:%d/pb/{stream}"}""".formatted(rtmp)).status()).isEqualTo(201);
        assertThat(put("pb", """
                {"type": "rtmp_receive", "app": "pb"},
                {"type": "ffmpeg_push", "url": "rtmp://127.0.0.1:%d/pa/{stream}_x"}""".formatted(rtmp)).status()).isEqualTo(201);
        Process pub = MediaTools.publish("rtmp://127.0.0.1:" + rtmp + "/pa/cam", 40, dir.resolve("logs/pa.log"));
        AtomicInteger most = new AtomicInteger();
        try {
            JsonNode failed = await().atMost(Duration.ofSeconds(40)).until(() -> {
                most.accumulateAndGet(get(http, "/api/media").json().path("ffmpegProcesses").asInt(), Math::max);
                return get(http, "/api/workflows/pa").json();
            }, w -> w.path("state").asText().equals("failed"));
            assertThat(failed.path("detail").asText())
                    .startsWith("stream 'cam_x' came back to workflow 'pa' after passing through pa, pb");
            // The loop is gone: every push stops, and nothing starts again while the publisher goes on.
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                most.accumulateAndGet(get(http, "/api/media").json().path("ffmpegProcesses").asInt(), Math::max);
                return get(http, "/api/media").json().path("ffmpegProcesses").asInt() == 0 && streams("pb") == 0;
            });
            assertThat(pub.isAlive()).isTrue();
            assertThat(get(http, "/api/workflows/pa").json().path("state").asText()).isEqualTo("failed");
            assertThat(most.get()).as("ffmpeg processes at most (one push per stream and hop)").isLessThanOrEqualTo(4);
        } finally {
            kill(pub);
            http("DELETE", http, "/api/workflows/pa", null);
            http("DELETE", http, "/api/workflows/pb", null);
        }
    }
}
