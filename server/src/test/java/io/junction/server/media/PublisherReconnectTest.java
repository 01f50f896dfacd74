package io.junction.server.media;

import io.junction.core.testing.Tools;
import io.junction.server.Clients;
import io.junction.server.Junction;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A publisher that reconnects keeps its players: a real ffmpeg player stays attached while publisher A is killed and
 * publisher B takes the stream name within {@code [rtmp] publisher_grace}, and goes on decoding B's frames; once no
 * publisher comes back within the grace period, the player is told the stream stopped and exits.
 */
class PublisherReconnectTest {

    @TempDir
    Path dir;

    private Junction node;
    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void stop() {
        for (Process p : processes) {
            kill(p);
        }
        if (node != null) {
            node.close();
        }
    }

    /** Kills ffmpeg itself, not only the {@code timeout} around it (which would leave it running). */
    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** The frames the player has decoded so far: one line each in its framecrc output. */
    private static long frames(Path out) throws IOException {
        if (!Files.exists(out)) {
            return 0;
        }
        try (var lines = Files.lines(out)) {
            return lines.filter(l -> !l.startsWith("#")).count();
        }
    }

    @Test
    void playersStayAttachedAcrossAPublisherReconnectWithinTheGraceAndAreEndedAfterIt() throws Exception {
        String ffmpeg = Tools.require("ffmpeg", "ffmpeg");
        node = Junction.start(Clients.config(dir, "always", """
                [rtmp]
                port = 0
                host = "127.0.0.1"
                publisher_grace = "8s"

                [[workflows]]
                name = "live"
                steps = [
                  { type = "rtmp_receive", app = "live" },
                  { type = "rtmp_watch", app = "watch" },
                ]
                """));
        int http = node.httpPort();
        int rtmp = MediaTools.get(http, "/api/media").json().path("rtmp").path("port").asInt();
        String publishUrl = "rtmp://127.0.0.1:" + rtmp + "/live/cam";

        Process a = MediaTools.publish(publishUrl, 60, dir.resolve("logs/a.log"));
        processes.add(a);
        // The player decodes the video and writes a line per frame. Its -rw_timeout (60 s) is far longer than the
        // grace, so that when it exits it is because it was told the stream stopped, not because it timed out.
        Path out = dir.resolve("player.framecrc");
        Process player = new ProcessBuilder(List.of("timeout", "-k", "2", "150", ffmpeg, "-hide_banner", "-loglevel", "error",
                "-rw_timeout", "60000000", "-i", "rtmp://127.0.0.1:" + rtmp + "/watch/cam", "-map", "0:v:0",
                "-f", "framecrc", "-flush_packets", "1", out.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("logs/player.log").toFile()).start();
        processes.add(player);
        await().atMost(Duration.ofSeconds(30)).until(() -> frames(out) > 30);

        kill(a);
        Process b = MediaTools.publish(publishUrl, 60, dir.resolve("logs/b.log"));
        processes.add(b);
        long atSwitch = frames(out);
        // B's frames reach the same player: its count goes well past what it had when A went away.
        await().atMost(Duration.ofSeconds(30)).until(() -> frames(out) > atSwitch + 45 || !player.isAlive());
        assertThat(player.isAlive()).as("the player is still attached after publisher A went away; its output: %s",
                Files.readString(dir.resolve("logs/player.log"))).isTrue();
        assertThat(frames(out)).isGreaterThan(atSwitch + 45);

        // B stops for longer than the grace: the player is told the stream stopped and exits by itself (well before
        // its own read timeout would end it).
        kill(b);
        await().atMost(Duration.ofSeconds(45)).until(() -> !player.isAlive());
    }
}
