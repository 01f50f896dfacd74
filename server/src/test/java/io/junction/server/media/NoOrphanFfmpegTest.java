package io.junction.server.media;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Stopping the server leaves no ffmpeg child running. */
class NoOrphanFfmpegTest {

    @TempDir
    Path dir;

    private static long ffmpegChildren() {
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().command().map(c -> c.endsWith("/ffmpeg")).orElse(false))
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains("pipe:0")).orElse(false))
                .count();
    }

    @Test
    void closingTheServerStopsEveryFfmpegChild() throws Exception {
        Tools.require("ffmpeg", "ffmpeg");
        Junction node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"
                [[workflows]]
                name = "live"
                steps = [{ type = "rtmp_receive", app = "live" }, { type = "ffmpeg_hls" }, { type = "ffmpeg_transcode", size = "160x120" }]
                """));
        Process pub = null;
        try {
            int rtmp = MediaTools.get(node.httpPort(), "/api/media").json().path("rtmp").path("port").asInt();
            pub = MediaTools.publish("rtmp://127.0.0.1:" + rtmp + "/live/cam", 20, dir.resolve("pub.log"));
            await().atMost(Duration.ofSeconds(20)).until(() -> ffmpegChildren() == 2);
        } finally {
            node.close();
            if (pub != null) {
                pub.destroyForcibly();
            }
        }
        assertThat(ffmpegChildren()).isZero();
    }
}
