package io.junction.server.media;

import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** RTMPS: with a certificate configured, real ffmpeg publishes and plays over TLS. */
class RtmpsTest {

    @TempDir
    Path dir;

    @Test
    void ffmpegPublishesAndPlaysOverRtmps() throws Exception {
        String openssl = Tools.require("openssl", "openssl");
        Path key = dir.resolve("key.pem");
        Path key8 = dir.resolve("key8.pem");
        Path cert = dir.resolve("cert.pem");
        assertThat(MediaTools.run(List.of(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-days", "2", "-subj", "/CN=127.0.0.1"), 30).exit()).isZero();
        assertThat(MediaTools.run(List.of(openssl, "pkcs8", "-topk8", "-nocrypt", "-in", key.toString(), "-out", key8.toString()), 30).exit()).isZero();
        Junction node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"
                [rtmp.tls]
                port = 0
                cert = "%s"
                key = "%s"
                [[workflows]]
                name = "secure"
                steps = [{ type = "rtmp_receive", app = "live" }, { type = "rtmp_watch", app = "watch" }]
                """.formatted(cert, key8)));
        Process pub = null;
        try {
            int http = node.httpPort();
            int tls = MediaTools.get(http, "/api/media").json().path("rtmp").path("tlsPort").asInt();
            assertThat(tls).isPositive();
            pub = MediaTools.publish("rtmps://127.0.0.1:" + tls + "/live/s1", 6, dir.resolve("pub.log"));
            await().atMost(Duration.ofSeconds(20)).until(() -> MediaTools.get(http, "/api/workflows/secure").json().path("streams").size() == 1);
            JsonNode video = MediaTools.stream(MediaTools.probe("rtmps://127.0.0.1:" + tls + "/watch/s1", false, 20), "video");
            assertThat(video.path("codec_name").asText()).isEqualTo("h264");
            assertThat(video.path("width").asInt()).isEqualTo(320);
        } finally {
            if (pub != null) {
                pub.destroyForcibly();
            }
            node.close();
        }
    }
}
