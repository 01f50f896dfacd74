package io.junction.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import io.junction.core.auth.PasswordHash;
import io.junction.core.config.ConfigLoader;
import io.junction.core.config.JunctionConfig;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CommandLineTest {

    @TempDir
    Path dir;

    private record Result(int exit, String out, String err) {
    }

    private static synchronized Result run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = new CommandLine(new Main()).execute(args);
            return new Result(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void configCheckAcceptsAGoodFile() throws Exception {
        Path file = dir.resolve("good.toml");
        Result r = checked(file, "[mqtt]\nport = 18830\nanonymous = true\n");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("ok", "18830");
    }

    @Test
    void configCheckSaysWhichEnginesAFileSelectsAndWhetherTheyAnswer() throws Exception {
        Path embedded = dir.resolve("embedded.toml");
        Result plain = checked(embedded, "[mqtt]\nport = 18830\n");
        assertThat(plain.exit()).isZero();
        assertThat(plain.out()).contains("engines: streams embedded, status embedded, state embedded");

        String redis = io.junction.scaleout.engines.RedisTestServer.url();
        int nothing = io.junction.core.testing.Tools.freePort();
        Path engines = dir.resolve("engines.toml");
        Result r = checked(engines, """
                [status]
                engine = "redis"
                [redis]
                url = "%s"
                [state]
                engine = "postgres"
                [postgres]
                url = "jdbc:postgresql://127.0.0.1:%d/junction"
                """.formatted(redis, nothing));
        assertThat(r.out()).contains("engines: streams embedded, status redis, state postgres")
                .contains("redis at " + java.net.URI.create(redis).getHost() + ":" + java.net.URI.create(redis).getPort() + ": answers");
        assertThat(r.err()).contains("postgres at 127.0.0.1:" + nothing + "/junction: does not answer");
        assertThat(r.exit()).as("a selected engine does not answer").isEqualTo(1);
    }

    @Test
    void configCheckNamesTheFileLineAndKeyOfAnUnknownKey() throws Exception {
        Path file = dir.resolve("bad.toml");
        assertThat(checkFails(file, "[mqtt]\nport = 18830\n\n[http]\nprot = 8080\n")).contains(file + ":5: http.prot: unknown key");
    }

    @Test
    void configCheckNamesTheLineOfAWrongDriverOrJob() throws Exception {
        Path drivers = dir.resolve("drivers.toml");
        assertThat(checkFails(drivers, "[mqtt]\nport = 18830\n\n[[drivers]]\nid = \"light\"\nstatus = { power = \"a..b\" }\n")).contains(drivers + ":4: drivers: status.power: 'a..b' is not a routing key");

        Path jobs = dir.resolve("jobs.toml");
        assertThat(checkFails(jobs, "[[jobs]]\nname = \"water\"\ndriver = \"pump\"\nsteps = [ { wait = \"soon\" } ]\n")).contains(jobs + ":1:").contains("water");
    }

    @Test
    void configCheckRunsEveryFeaturesCheck() throws Exception {
        Path ota = dir.resolve("ota.toml");
        assertThat(checkFails(ota, "[mqtt]\nport = 18830\n\n[ota]\nchunk_bytes = 1\n")).contains(ota + ":5: ota.chunk_bytes: expected a whole number");

        Path step = dir.resolve("step.toml");
        assertThat(checkFails(step, "[[workflows]]\nname = \"live\"\nsteps = [\n  { type = \"rtmp_receive\", app = \"live\" },\n"
                + "  { type = \"ffmpeg_hls\", segment_seconds = \"two\" },\n]\n")).contains(step + ":").contains("step 2 (ffmpeg_hls): segment_seconds");

        Path unknown = dir.resolve("unknown.toml");
        assertThat(checkFails(unknown, "[mqtt]\nport = 18830\n\n[otaa]\nchunk_bytes = 1024\n")).contains(unknown + ":4: otaa: unknown key").contains("ota", "telemetry", "workflows");
    }

    @Test
    void runRefusesABadConfigWithASentenceBeforeStartingAnything() throws Exception {
        Path file = dir.resolve("bad.toml");
        Files.writeString(file, "[data]\nfsync = \"sometimes\"\n");
        Result r = run("run", "--config", file.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("bad config", "data.fsync", "expected one of");
    }

    @Test
    void passwdPrintsAHashTheConfigAccepts() throws Exception {
        var in = System.in;
        System.setIn(new java.io.ByteArrayInputStream("secret\n".getBytes(StandardCharsets.UTF_8)));
        try {
            Result r = run("passwd");
            assertThat(r.exit()).isZero();
            String hash = r.out().strip();
            assertThat(PasswordHash.verify("secret".toCharArray(), hash)).isTrue();
        } finally {
            System.setIn(in);
        }
    }

    @Test
    void aPortInUseStopsStartUpWithWhichPort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            JunctionConfig config = new ConfigLoader(k -> null).parse("t.toml", """
                    [mqtt]
                    host = "127.0.0.1"
                    port = %d
                    [http]
                    host = "127.0.0.1"
                    port = 0
                    [data]
                    dir = "%s"
                    """.formatted(taken.getLocalPort(), dir.resolve("data")));
            assertThatThrownBy(() -> Junction.start(config))
                    .isInstanceOf(StartupException.class)
                    .hasMessageContaining(String.valueOf(taken.getLocalPort()));
        }
    }

    @Test
    void twoServersCannotShareADataDirectory() {
        JunctionConfig config = new ConfigLoader(k -> null).parse("t.toml", """
                [mqtt]
                host = "127.0.0.1"
                port = 0
                [http]
                host = "127.0.0.1"
                port = 0
                [data]
                dir = "%s"
                """.formatted(dir.resolve("shared")));
        try (Junction first = Junction.start(config)) {
            assertThatThrownBy(() -> Junction.start(config))
                    .isInstanceOf(StartupException.class)
                    .hasMessageContaining("in use by another Junction process");
        }
    }

    /** Writes {@code toml} to {@code file} and runs {@code config check} on it. */
    private Result checked(Path file, String toml) throws Exception {
        Files.writeString(file, toml);
        return run("config", "check", file.toString());
    }

    /** As {@link #checked}, expecting the check to fail (exit 2); returns what it wrote on standard error. */
    private String checkFails(Path file, String toml) throws Exception {
        Result r = checked(file, toml);
        assertThat(r.exit()).isEqualTo(2);
        return r.err();
    }

}
