package io.junction.mqtt.broker;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real command-line tools some tests talk to (mosquitto clients, openssl). */
final class Tools {

    private Tools() {
    }

    /** The path of {@code name}, or the test stops with what to install (failed under CI, skipped elsewhere). */
    static String require(String name, String packageName) {
        return io.junction.core.testing.Tools.require(name, packageName);
    }

    static String mosquitto(String name) {
        return require(name, "mosquitto-clients");
    }

    /** A running child process whose output is collected; destroyed on close. */
    static final class Running implements AutoCloseable {
        final Process process;
        private final Path output;

        Running(Process process, Path output) {
            this.process = process;
            this.output = output;
        }

        /** Waits for the process to exit and returns its exit code; fails the test on timeout. */
        int waitFor(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                fail("process did not finish within " + timeout + "; output: " + output());
            }
            return process.exitValue();
        }

        String output() {
            try {
                return Files.readString(output, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(no output: " + e + ")";
            }
        }

        List<String> lines() {
            return output().lines().toList();
        }

        @Override
        public void close() throws IOException {
            process.destroyForcibly();
            Files.deleteIfExists(output);
        }
    }

    /** Starts a command with stdout and stderr going to one temporary file. */
    static Running start(String... command) throws IOException {
        Path out = Files.createTempFile("junction-tool", ".out");
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(command)));
        pb.redirectErrorStream(true);
        pb.redirectOutput(out.toFile());
        return new Running(pb.start(), out);
    }

    /** Runs a command to completion and returns its output; fails the test if it exits non-zero. */
    static String run(Duration timeout, String... command) throws IOException, InterruptedException {
        try (Running r = start(command)) {
            int code = r.waitFor(timeout);
            String output = r.output();
            if (code != 0) {
                fail(String.join(" ", command) + " exited with " + code + ": " + output);
            }
            return output;
        }
    }
}
