package io.junction.engine;

import io.junction.core.Message;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Python scripts (GraalPy takes seconds to start, so they share one test). */
class PythonTest {

    @TempDir
    Path dir;

    @Test
    void pythonTransformsStaysIsolatedAndIsRefusedWithItsLineWhenInvalid() throws Exception {
        // A listening socket the script would reach if it had the network: it must not.
        try (java.net.ServerSocket listening = new java.net.ServerSocket(0, 10, java.net.InetAddress.getLoopbackAddress());
             Fixture f = new Fixture(dir, Fixture.settings(5_000, 64, 10, List.of()))) {
            f.store("pct", Language.PYTHON, """
                    def init(ctx):
                        junction.log("init", ctx.name)

                    def process(m):
                        return {"key": m["key"] + "_pct", "body": {"value": m["body"]["value"] * 100 / 255}}
                    """, "bedroom.#");
            f.store("probe", Language.PYTHON, """
                    import os

                    def attempt(f):
                        try:
                            f()
                            return "allowed"
                        except Exception as e:
                            return type(e).__name__

                    def process(m):
                        return [
                            {"key": "probe.file", "body": attempt(lambda: open("/etc/passwd").read())},
                            {"key": "probe.list", "body": attempt(lambda: os.listdir("/"))},
                            {"key": "probe.java", "body": attempt(lambda: __import__("java").type("java.lang.System"))},
                        ]
                    """, "probe");
            f.publish("bedroom.light.brightness", "{\"value\":128}");
            f.publish("probe", "{}");
            assertThat(f.awaitProcessed("bedroom.light.brightness_pct", 1).getFirst().body()).isEqualTo("{\"value\":50.19607843137255}");
            assertThat(f.info("pct").logs()).containsExactly("init pct");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                    .untilAsserted(() -> assertThat(f.processedWithKey("probe.java")).as("%s", f.info("probe")).hasSize(1));
            for (String k : List.of("probe.file", "probe.list", "probe.java")) {
                Message m = f.awaitProcessed(k, 1).getFirst();
                assertThat(m.body()).as(k).doesNotContain("allowed");
            }

            // The network: GraalPy refuses name resolution and sockets outright, which fails the message.
            f.store("net", Language.PYTHON, """
                    import socket

                    def process(m):
                        socket.create_connection(("127.0.0.1", m["body"]["port"]), 2)
                        return {"key": "net.allowed", "body": {}}
                    """, "net");
            f.publish("net", "{\"port\":" + listening.getLocalPort() + "}");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                    .until(() -> f.info("net").counters().failed() == 1);
            assertThat(f.processedWithKey("net.allowed")).isEmpty();
            listening.setSoTimeout(200);
            assertThatThrownBy(listening::accept).isInstanceOf(java.net.SocketTimeoutException.class);

            assertThatThrownBy(() -> f.store("bad", Language.PYTHON, "def process(m):\n    return m[\n", "#"))
                    .isInstanceOf(ScriptRejectedException.class)
                    .hasMessageContaining("SyntaxError")
                    .satisfies(e -> assertThat(((ScriptRejectedException) e).line()).isEqualTo(2));
        }
    }
}
