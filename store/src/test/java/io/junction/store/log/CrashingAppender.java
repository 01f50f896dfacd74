package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.config.JunctionConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.nio.file.Path;

/**
 * The child process of {@link LogStreamCrashTest}: appends from several threads, each waiting for every append, and
 * prints {@code ACK <offset> <id>} for each acknowledged one, until it is killed.
 * Arguments: the stream directory, the fsync policy.
 */
public final class CrashingAppender {

    static final int THREADS = 4;

    private CrashingAppender() {
    }

    /** The message thread {@code t} appends as its {@code seq}-th. */
    static Message message(int t, long seq) {
        return new Message(t + "-" + seq, 1_700_000_000_000L + seq, "crash/" + t, RoutingKey.of("crash.t" + t),
                "dev-" + t, Message.STATUS, "{\"t\":" + t + ",\"seq\":" + seq + "}");
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        JunctionConfig.Fsync fsync = JunctionConfig.Fsync.valueOf(args[1]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        LogStream stream = LogStream.open(dir, "raw", new JunctionConfig.Data(dir, fsync, 5, 64 * 1024),
                new SimpleMeterRegistry());
        Thread[] threads = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            threads[t] = Thread.ofPlatform().start(() -> {
                for (long seq = 0; ; seq++) {
                    Message m = message(thread, seq);
                    long offset = stream.append(m).join();
                    out.println("ACK " + offset + " " + m.id());
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
    }
}
