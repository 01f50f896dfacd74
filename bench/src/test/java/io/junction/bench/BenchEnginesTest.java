package io.junction.bench;

import io.junction.core.testing.Tools;
import io.junction.scaleout.engines.PostgresServer;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engines a bench run starts for itself (Redis and PostgreSQL here; Kafka's start is the scale-out module's
 * {@code KafkaServer}, tested there): on free ports, selected by the config sections, measured, gone after close.
 */
class BenchEnginesTest {

    @Test
    void startsTheSelectedEnginesAndStopsThemAndTheirFolder() throws Exception {
        Tools.require("redis-server", "redis-server");
        if (!PostgresServer.installed()) {
            Tools.missing("PostgreSQL is not installed: install it with 'apt-get install postgresql'");
        }
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        List<Usage.Proc> procs;
        Path dir;
        try (BenchEngines e = BenchEngines.start(new EngineSetup(false, true, true), new PrintStream(printed, true, StandardCharsets.UTF_8))) {
            procs = e.processes();
            assertThat(procs).extracting(Usage.Proc::name).containsExactly("redis", "postgres");
            for (Usage.Proc p : procs) {
                assertThat(ProcessHandle.of(p.pid())).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());
            }
            List<String[]> sections = e.configSections();
            String config = JunctionServer.mergeConfig("", 1, 2, Path.of("/d"), sections);
            assertThat(config).contains("[streams]\nengine = \"embedded\"").contains("[status]\nengine = \"redis\"")
                    .contains("[state]\nengine = \"postgres\"").doesNotContain("[kafka]")
                    .containsPattern("\\[postgres]\nurl = \"jdbc:postgresql://127\\.0\\.0\\.1:\\d+/junction\"\nuser = \"junction\"\npassword = \"[A-Za-z0-9_-]{20,}\"");
            // The Redis in the config answers PING.
            String url = sections.stream().filter(s -> s[0].equals("redis")).findFirst().orElseThrow()[1];
            int port = Integer.parseInt(url.replaceAll(".*:(\\d+)\"$", "$1"));
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII)).startsWith("+PONG");
            }
            // Usage reads their CPU and memory (PostgreSQL: the postmaster with its children).
            Usage usage = new Usage(procs);
            Usage.Sample a = usage.sample();
            Usage.Sample b = usage.sample();
            assertThat(Usage.between(a, b).cpuSeconds()).containsOnlyKeys("redis", "postgres");
            assertThat(usage.memoryKb()).allSatisfy((name, kb) -> assertThat(kb).as(name).isPositive());
            dir = e.dir();
            assertThat(dir).isDirectory();
        }
        for (Usage.Proc p : procs) {
            assertThat(ProcessHandle.of(p.pid()).map(ProcessHandle::isAlive).orElse(false)).as(p.name() + " stopped").isFalse();
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("redis ready").contains("postgres ready");
        assertThat(dir).doesNotExist();
    }
}
