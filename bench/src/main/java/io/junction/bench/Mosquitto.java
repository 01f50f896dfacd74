package io.junction.bench;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** A private Mosquitto broker on a free port of 127.0.0.1, for the reference runs and the client's tests. */
public final class Mosquitto implements AutoCloseable {

    private final Process process;
    /** Stops the child if the bench is interrupted (Ctrl-C) before it closed it. */
    private final ChildProcess child;
    private final int port;

    private Mosquitto(Process process, Path dir, int port) {
        this.process = process;
        this.port = port;
        this.child = new ChildProcess(process, dir, 5);
    }

    /** The mosquitto executable on PATH (or Debian's /usr/sbin/mosquitto, which a non-root PATH may lack). */
    public static Optional<Path> find() {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String d : path.split(File.pathSeparator)) {
            if (d.isEmpty()) {
                continue;
            }
            File f = new File(d, "mosquitto");
            if (f.canExecute()) {
                return Optional.of(f.toPath());
            }
        }
        File sbin = new File("/usr/sbin/mosquitto");
        return sbin.canExecute() ? Optional.of(sbin.toPath()) : Optional.empty();
    }

    /** Starts {@code exe} with a config of its own (anonymous, one listener) and waits until it accepts connections. */
    public static Mosquitto start(Path exe) throws IOException {
        int port = Net.freePort();
        Path dir = Files.createTempDirectory("junction-bench-mosquitto");
        Path conf = dir.resolve("mosquitto.conf");
        Files.writeString(conf, "listener " + port + " 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n");
        Path log = dir.resolve("mosquitto.log");
        Process p = new ProcessBuilder(exe.toString(), "-c", conf.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Mosquitto m = new Mosquitto(p, dir, port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                return m;
            } catch (IOException notYet) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    String out = Files.exists(log) ? Files.readString(log) : "";
                    m.close();
                    throw new IOException("mosquitto did not start on port " + port + ": " + out.strip());
                }
                Net.sleep(50);
            }
        }
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    @Override
    public void close() {
        child.close();
    }
}
