package io.junction.store.log;

import io.junction.core.config.JunctionConfig.Fsync;
import io.junction.core.stream.StreamEntry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.junction.store.TestMessages.settings;
import static org.assertj.core.api.Assertions.assertThat;

/** Kills a real appending process with SIGKILL and checks that every acknowledged message survived. */
class LogStreamCrashTest {

    private static final Pattern ACK = Pattern.compile("ACK (\\d+) (\\d+)-(\\d+)");

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = Fsync.class, names = {"ALWAYS", "INTERVAL"})
    void everyAcknowledgedMessageSurvivesAKillOfTheProcessExactlyOnceAndInOrder(Fsync fsync) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"),
                CrashingAppender.class.getName(), dir.toString(), fsync.name())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        Map<Long, String> acknowledged = new HashMap<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String line;
            while (acknowledged.size() < 3000 && (line = out.readLine()) != null && System.nanoTime() < deadline) {
                record(line, acknowledged);
            }
            // SIGKILL through the handle, which (unlike Process.destroyForcibly) leaves its output readable to the end.
            child.toHandle().destroyForcibly();
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            // What the child printed before it died was acknowledged too; a cut last line is not counted.
            while ((line = out.readLine()) != null) {
                record(line, acknowledged);
            }
        } finally {
            child.destroyForcibly();
        }
        assertThat(acknowledged).hasSizeGreaterThanOrEqualTo(3000);

        try (LogStream stream = LogStream.open(dir, "raw", settings(dir, fsync, 64 * 1024), new SimpleMeterRegistry())) {
            List<StreamEntry> all = new ArrayList<>();
            for (long from = 0; ; ) {
                List<StreamEntry> page = stream.read(from, 5000);
                if (page.isEmpty()) {
                    break;
                }
                all.addAll(page);
                from = page.getLast().offset() + 1;
            }
            assertThat((long) all.size()).isEqualTo(stream.endOffset());
            long[] nextSeq = new long[CrashingAppender.THREADS];
            for (int i = 0; i < all.size(); i++) {
                StreamEntry e = all.get(i);
                assertThat(e.offset()).isEqualTo(i);
                String[] id = e.message().id().split("-");
                int t = Integer.parseInt(id[0]);
                long seq = Long.parseLong(id[1]);
                // Each producer waited for every append, so its messages are in the log once each, in its order.
                assertThat(seq).as("message %s at offset %d", e.message().id(), i).isEqualTo(nextSeq[t]);
                nextSeq[t]++;
                assertThat(e.message()).isEqualTo(CrashingAppender.message(t, seq));
            }
            for (Map.Entry<Long, String> ack : acknowledged.entrySet()) {
                assertThat(ack.getKey()).as("acknowledged offset").isLessThan(all.size());
                assertThat(all.get(ack.getKey().intValue()).message().id()).isEqualTo(ack.getValue());
            }
            // And the stream goes on where the dead process stopped.
            assertThat(stream.append(CrashingAppender.message(0, nextSeq[0])).join()).isEqualTo(all.size());
        }
    }

    private static void record(String line, Map<Long, String> acknowledged) {
        Matcher m = ACK.matcher(line);
        if (m.matches()) {
            acknowledged.put(Long.parseLong(m.group(1)), m.group(2) + "-" + m.group(3));
        }
    }
}
