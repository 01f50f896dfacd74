package io.junction.bench;

import io.junction.media.rtmp.Amf0;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code ./junction bench media}: one ~600 kbit/s RTMP stream played by N light RTMP players written here (handshake,
 * connect, createStream, play, then read and discard chunks), against Junction started as a child process and, when
 * nginx with its RTMP module is installed, against a private nginx in the same run as the reference. Measures the
 * server's CPU (from /proc, so players per core), its memory, and publish-to-play latency (the publisher stamps each
 * frame with the RTMP timestamp of its send time; publisher and players share this JVM's clock). Then the time from
 * an ffmpeg publish to the first HLS segment listed in the playlist.
 */
final class MediaBench {

    private static final String USAGE = """
            usage: bench media [--players N,N,...] [--seconds T] [--kbps K] [--client-threads C] [--no-reference] [--no-hls]
              --players         player counts to measure, one pass each (default 200,1000)
              --seconds         measured seconds per pass, after the players joined and a 2 s warm-up (default 10)
              --kbps            the stream's bit rate, audio included (default 600)
              --client-threads  event-loop threads of the players (default 1)
              --no-reference    skip nginx-rtmp
              --no-hls          skip the HLS first-segment measurement
            """;
    private static final int TICKS = 100;

    private record Options(List<Integer> players, int seconds, int kbps, int clientThreads, boolean reference, boolean hls) {
    }

    private record Result(String server, int players, int receiving, double cores, long rssKb, double kbpsPerPlayer,
                          long p50, long p99, long max) {
    }

    private MediaBench() {
    }

    static int run(String[] args, PrintStream out) throws Exception {
        Options o;
        try {
            o = options(args);
        } catch (Args.UsageException e) {
            out.println("bench media: " + e.getMessage());
            out.print(USAGE);
            return 2;
        }
        out.printf(Locale.ROOT, "media bench: one %d kbit/s stream (synthetic H.264/AAC-shaped frames, 30 fps video, 2 s GOP) to %s players; "
                        + "%d s measured per pass; %d cores shared with the players, the publisher and anything else running%n",
                o.kbps(), o.players(), o.seconds(), Runtime.getRuntime().availableProcessors());
        List<Result> results = new ArrayList<>();
        EventLoopGroup clients = new MultiThreadIoEventLoopGroup(o.clientThreads(), new DefaultThreadFactory("bench-rtmp-player", true), NioIoHandler.newFactory());
        String hlsLine = "skipped";
        try {
            int rtmpPort = Net.freePort();
            Path config = Files.createTempFile("media-bench", ".toml");
            Files.writeString(config, """
                    [rtmp]
                    host = "127.0.0.1"
                    port = %d

                    [[workflows]]
                    name = "bench"
                    steps = [{ type = "rtmp_receive", app = "live" }, { type = "rtmp_watch", app = "watch" }]

                    [[workflows]]
                    name = "hls"
                    steps = [{ type = "rtmp_receive", app = "hlsin" }, { type = "ffmpeg_hls", segment_seconds = 1 }]
                    """.formatted(rtmpPort));
            try (JunctionServer server = JunctionServer.start(config, "1g")) {
                long idleRss = server.rssKb();
                for (int n : o.players()) {
                    results.add(relay("junction", server.pid(), rtmpPort, "live", "watch", n, o, clients, out));
                }
                out.printf(Locale.ROOT, "junction idle RSS %,d kB%n", idleRss);
                if (o.hls()) {
                    hlsLine = hls(server, rtmpPort, out);
                }
            } finally {
                Files.deleteIfExists(config);
            }
            if (o.reference()) {
                Optional<Path> module = Path.of("/usr/lib/nginx/modules/ngx_rtmp_module.so").toFile().exists()
                        ? Optional.of(Path.of("/usr/lib/nginx/modules/ngx_rtmp_module.so")) : Optional.empty();
                Optional<Path> nginx = Path.of("/usr/sbin/nginx").toFile().canExecute() ? Optional.of(Path.of("/usr/sbin/nginx")) : Optional.empty();
                if (module.isEmpty() || nginx.isEmpty()) {
                    out.println("nginx-rtmp reference skipped: install it with 'apt-get install nginx-light libnginx-mod-rtmp'");
                } else {
                    try (Nginx ref = Nginx.start(nginx.get(), module.get())) {
                        for (int n : o.players()) {
                            results.add(relay("nginx-rtmp", ref.pid(), ref.port(), "live", "live", n, o, clients, out));
                        }
                    }
                }
            }
        } finally {
            clients.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS);
        }

        Table t = new Table("server", "players", "receiving", "server CPU (cores)", "players/core", "RSS (MB)",
                "kbit/s per player", "latency p50 (ms)", "p99 (ms)", "max (ms)");
        for (Result r : results) {
            t.add(r.server(), r.players(), r.receiving(), String.format(Locale.ROOT, "%.2f", r.cores()),
                    r.cores() > 0 ? Table.rate(r.receiving() / r.cores()) : "-", r.rssKb() / 1024,
                    String.format(Locale.ROOT, "%.0f", r.kbpsPerPlayer()), Table.ms(r.p50()), Table.ms(r.p99()), Table.ms(r.max()));
        }
        out.println();
        out.print(t.render());
        out.println("targets: >= 2,400 players per core (nginx-rtmp's published figure; SRS reaches 4,000); HLS first segment <= 2 s after publish");
        out.println("HLS: " + hlsLine);
        out.println("players/core = players receiving / CPU cores the server used (utime+stime from /proc) during the measured seconds; "
                + "the machine is shared, so the figures move from run to run.");
        return 0;
    }

    private static Options options(String[] argv) throws Args.UsageException {
        Args a = new Args(argv, 0, Set.of("--players", "--seconds", "--kbps", "--client-threads"), Set.of("--no-reference", "--no-hls"));
        List<Integer> players = new ArrayList<>();
        for (String p : a.string("--players", "200,1000").split(",")) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n < 1 || n > 9_000) {
                    throw new Args.UsageException("--players: each count must be 1 to 9000 (file descriptors), got " + n);
                }
                players.add(n);
            } catch (NumberFormatException e) {
                throw new Args.UsageException("--players expects counts such as 200,1000, got '" + p + "'");
            }
        }
        return new Options(players, a.integer("--seconds", 10, 1, 3600), a.integer("--kbps", 600, 100, 20_000),
                a.integer("--client-threads", 1, 1, 16), !a.flag("--no-reference"), !a.flag("--no-hls"));
    }

    /** One pass: a publisher, n players, a warm-up, then the measured seconds. */
    private static Result relay(String name, long serverPid, int port, String publishApp, String playApp, int n, Options o,
                                EventLoopGroup clients, PrintStream out) throws Exception {
        String key = "bench" + n;
        LatencyHistogram latency = new LatencyHistogram();
        try (Publisher pub = Publisher.start(port, publishApp, key, o.kbps())) {
            List<Player> players = new ArrayList<>();
            Bootstrap b = new Bootstrap().group(clients).channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
            for (int i = 0; i < n; i++) {
                Player p = new Player(playApp, key, pub.startMicros(), latency);
                players.add(p);
                b.clone().handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(p);
                    }
                }).connect("127.0.0.1", port).addListener(f -> {
                    if (!f.isSuccess()) {
                        p.failed = true;
                    }
                });
                if (i % 100 == 99) {
                    Thread.sleep(20);   // lets the server's accept queue drain
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline && players.stream().filter(p -> p.frames.get() > 0).count() < n) {
                Thread.sleep(100);
            }
            Thread.sleep(2_000);
            latency.reset();
            long[] bytes0 = new long[n];
            for (int i = 0; i < n; i++) {
                bytes0[i] = players.get(i).bytes.get();
            }
            long cpu0 = cpuTicks(serverPid);
            long t0 = System.nanoTime();
            Thread.sleep(o.seconds() * 1000L);
            long cpu1 = cpuTicks(serverPid);
            double wall = (System.nanoTime() - t0) / 1e9;
            long rss = rssKbTree(serverPid);
            int receiving = 0;
            long total = 0;
            for (int i = 0; i < n; i++) {
                long got = players.get(i).bytes.get() - bytes0[i];
                total += got;
                // A player that got less than half the stream's rate is not counted as served.
                if (got * 8 / wall / 1000 >= o.kbps() * 0.5) {
                    receiving++;
                }
            }
            for (Player p : players) {
                p.close();
            }
            double cores = (cpu1 - cpu0) / (double) TICKS / wall;
            Result r = new Result(name, n, receiving, cores, rss, total * 8 / wall / 1000 / n,
                    latency.percentile(50), latency.percentile(99), latency.max());
            out.printf(Locale.ROOT, "%s: %d players, %d receiving, %.2f cores, RSS %,d kB, p50 %.1f ms%n", name, n, receiving, cores, rss, r.p50() / 1000.0);
            Thread.sleep(500);
            return r;
        }
    }

    /** utime + stime of a process and its descendants, in clock ticks. */
    private static long cpuTicks(long pid) {
        long sum = stat(pid);
        for (ProcessHandle h : ProcessHandle.of(pid).map(p -> p.descendants().toList()).orElse(List.of())) {
            sum += stat(h.pid());
        }
        return sum;
    }

    private static long stat(long pid) {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static long rssKbTree(long pid) {
        long sum = Math.max(0, JunctionServer.rssKb(pid));
        for (ProcessHandle h : ProcessHandle.of(pid).map(p -> p.descendants().toList()).orElse(List.of())) {
            sum += Math.max(0, JunctionServer.rssKb(h.pid()));
        }
        return sum;
    }

    /** ffmpeg publishes a real H.264/AAC stream (1 s GOP) to the HLS workflow; the clock stops when the playlist lists a segment. */
    private static String hls(JunctionServer server, int port, PrintStream out) throws Exception {
        Optional<String> ffmpeg = which("ffmpeg");
        if (ffmpeg.isEmpty()) {
            return "skipped: install ffmpeg";
        }
        List<Long> times = new ArrayList<>();
        for (int run = 0; run < 3; run++) {
            String key = "h" + run;
            long start = System.nanoTime();
            Process p = new ProcessBuilder(ffmpeg.get(), "-hide_banner", "-loglevel", "error", "-re",
                    "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=sample_rate=44100",
                    "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30", "-b:v", "536k",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", "rtmp://127.0.0.1:" + port + "/hlsin/" + key)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                long deadline = start + TimeUnit.SECONDS.toNanos(15);
                while (System.nanoTime() < deadline) {
                    var r = Net.get(server.baseUrl() + "/hls/hls/" + key + "/index.m3u8", Duration.ofSeconds(2), server.token());
                    if (r.statusCode() == 200 && r.body().contains(".ts")) {
                        times.add((System.nanoTime() - start) / 1_000_000);
                        break;
                    }
                    Thread.sleep(20);
                }
            } finally {
                p.destroy();
                p.waitFor(5, TimeUnit.SECONDS);
                p.destroyForcibly();
            }
            Thread.sleep(1_000);
        }
        String line = "first segment listed " + times + " ms after ffmpeg started publishing (segment_seconds = 1, 1 s GOP, ffmpeg start-up included)";
        out.println("hls: " + line);
        return line;
    }

    private static Optional<String> which(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return Optional.of(p.toString());
            }
        }
        return Optional.empty();
    }

    /** RTMP chunks with a type-0 header and type-3 continuations; chunk stream ids below 64. */
    static byte[] chunks(int csid, int type, int msid, int ts, byte[] payload, int chunkSize) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(payload.length + 16 + payload.length / chunkSize);
        b.write(csid);
        b.write(ts >>> 16);
        b.write(ts >>> 8);
        b.write(ts);
        b.write(payload.length >>> 16);
        b.write(payload.length >>> 8);
        b.write(payload.length);
        b.write(type);
        b.write(msid);
        b.write(msid >>> 8);
        b.write(msid >>> 16);
        b.write(msid >>> 24);
        for (int pos = 0; ; ) {
            int n = Math.min(chunkSize, payload.length - pos);
            b.write(payload, pos, n);
            pos += n;
            if (pos >= payload.length) {
                break;
            }
            b.write(0xC0 | csid);
        }
        return b.toByteArray();
    }

    /**
     * The publisher: a blocking socket on its own thread that paces 30 video frames and ~43 audio frames a second.
     * Every frame's RTMP timestamp is the milliseconds since {@link #startMicros}, which the players use for latency.
     */
    record Publisher(Socket socket, long startMicros, Thread sender, AtomicBoolean stopping) implements AutoCloseable {

        static Publisher start(int port, String app, String key, int kbps) throws Exception {
            Socket s = new Socket("127.0.0.1", port);
            s.setTcpNoDelay(true);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            byte[] c0c1 = new byte[1537];
            c0c1[0] = 3;
            out.write(c0c1);
            out.flush();
            byte[] s0s1s2 = in.readNBytes(3073);
            if (s0s1s2.length < 3073) {
                throw new IOException("the server closed the RTMP handshake");
            }
            out.write(s0s1s2, 1, 1536);
            int chunk = 4096;
            out.write(chunks(2, 1, 0, 0, new byte[]{0, 0, 0x10, 0}, 128));
            out.write(chunks(3, 20, 0, 0, Amf0.encode("connect", 1.0, Map.of("app", app, "type", "nonprivate",
                    "tcUrl", "rtmp://127.0.0.1:" + port + "/" + app)), chunk));
            out.write(chunks(3, 20, 0, 0, Amf0.encode("releaseStream", 2.0, null, key), chunk));
            out.write(chunks(3, 20, 0, 0, Amf0.encode("FCPublish", 3.0, null, key), chunk));
            out.write(chunks(3, 20, 0, 0, Amf0.encode("createStream", 4.0, null), chunk));
            out.flush();
            // Wait for createStream's answer before publishing, as encoders do.
            CountDownLatch created = new CountDownLatch(1);
            CountDownLatch publishing = new CountDownLatch(1);
            InputStream input = in;
            Thread.ofPlatform().daemon().name("bench-publisher-reader").start(() -> drain(input, created, publishing));
            if (!created.await(10, TimeUnit.SECONDS)) {
                s.close();
                throw new IOException("no createStream answer from the server");
            }
            out.write(chunks(4, 20, 1, 0, Amf0.encode("publish", 5.0, null, key, "live"), chunk));
            out.flush();
            if (!publishing.await(10, TimeUnit.SECONDS)) {
                s.close();
                throw new IOException("the server did not accept the publish of " + app + "/" + key);
            }
            long start = System.nanoTime() / 1000;
            Socket socket = s;
            OutputStream o = out;
            Publisher[] self = new Publisher[1];
            Thread sender = Thread.ofPlatform().daemon().name("bench-publisher").unstarted(() -> self[0].send(o, kbps, chunk));
            self[0] = new Publisher(socket, start, sender, new AtomicBoolean());
            sender.start();
            return self[0];
        }

        /** Reads the server's answers; counts down on createStream's _result and on NetStream.Publish.Start. */
        private static void drain(InputStream in, CountDownLatch created, CountDownLatch publishing) {
            byte[] buf = new byte[8192];
            StringBuilder seen = new StringBuilder();
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (publishing.getCount() > 0) {
                        seen.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1));
                        if (seen.indexOf("_result") >= 0 && seen.lastIndexOf("_result") != seen.indexOf("_result")) {
                            created.countDown();
                        }
                        if (seen.indexOf("NetStream.Publish.Start") >= 0) {
                            publishing.countDown();
                        }
                    }
                }
            } catch (IOException e) {
                // closed
            }
        }

        private void send(OutputStream out, int kbps, int chunk) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int videoBytes = Math.max(200, (kbps - 64) * 1000 / 8 / 30);
            byte[] avcHeader = {0x17, 0, 0, 0, 0, 1, 0x42, (byte) 0xC0, 0x1E, (byte) 0xFF, (byte) 0xE1, 0, 4, 0x67, 0x42, (byte) 0xC0, 0x1E, 1, 0, 4, 0x68, (byte) 0xCE, 0x3C, (byte) 0x80};
            byte[] aacHeader = {(byte) 0xAF, 0, 0x12, 0x10};
            try {
                out.write(chunks(5, 18, 1, 0, new Amf0.Writer().value("@setDataFrame").value("onMetaData")
                        .ecmaArray(Map.of("width", 640.0, "height", 360.0, "videocodecid", 7.0, "audiocodecid", 10.0, "framerate", 30.0)).toBytes(), chunk));
                out.write(chunks(6, 9, 1, 0, avcHeader, chunk));
                out.write(chunks(4, 8, 1, 0, aacHeader, chunk));
                out.flush();
                long frame = 0;
                long audio = 0;
                while (!stopping.get()) {
                    long videoAt = frame * 1000 / 30;
                    long audioAt = audio * 1024 * 1000 / 44100;
                    long next = Math.min(videoAt, audioAt);
                    long wait = startMicros / 1000 + next - System.nanoTime() / 1_000_000;
                    if (wait > 0) {
                        Thread.sleep(wait);
                    }
                    if (videoAt <= audioAt) {
                        boolean key = frame % 60 == 0;
                        byte[] v = new byte[key ? videoBytes * 4 : videoBytes * 56 / 59];
                        r.nextBytes(v);
                        v[0] = (byte) (key ? 0x17 : 0x27);
                        v[1] = 1;
                        out.write(chunks(6, 9, 1, (int) videoAt, v, chunk));
                        frame++;
                    } else {
                        byte[] a = new byte[186];
                        a[0] = (byte) 0xAF;
                        a[1] = 1;
                        out.write(chunks(4, 8, 1, (int) audioAt, a, chunk));
                        audio++;
                    }
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // stopped
            }
        }

        @Override
        public void close() throws IOException {
            stopping.set(true);
            sender.interrupt();
            socket.close();
        }
    }

    /**
     * A light RTMP player: handshake, connect + createStream + play sent at once, then chunks are parsed only as far
     * as their headers and discarded. Records, for each video message, now − (publish start + its timestamp).
     */
    static final class Player extends ByteToMessageDecoder {
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong frames = new AtomicLong();
        volatile boolean failed;
        private final String app;
        private final String key;
        private final long startMicros;
        private final LatencyHistogram latency;
        private Channel channel;
        private boolean handshaken;
        private int chunkSize = 128;
        private final int[] length = new int[64];
        private final int[] type = new int[64];
        private final int[] timestamp = new int[64];
        private final int[] delta = new int[64];
        private final int[] left = new int[64];
        private long received;
        private long acked;
        private long window;

        Player(String app, String key, long startMicros, LatencyHistogram latency) {
            this.app = app;
            this.key = key;
            this.startMicros = startMicros;
            this.latency = latency;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            byte[] c0c1 = new byte[1537];
            c0c1[0] = 3;
            ctx.writeAndFlush(Unpooled.wrappedBuffer(c0c1));
        }

        void close() {
            if (channel != null) {
                channel.close();
            }
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (!handshaken) {
                if (in.readableBytes() < 3073) {
                    return;
                }
                in.skipBytes(1);
                ByteBuf c2 = in.readRetainedSlice(1536);
                in.skipBytes(1536);
                handshaken = true;
                ctx.write(c2);
                ctx.write(Unpooled.wrappedBuffer(chunks(3, 20, 0, 0, Amf0.encode("connect", 1.0, Map.of("app", app,
                        "tcUrl", "rtmp://127.0.0.1/" + app)), 128)));
                ctx.write(Unpooled.wrappedBuffer(chunks(3, 20, 0, 0, Amf0.encode("createStream", 2.0, null), 128)));
                ctx.writeAndFlush(Unpooled.wrappedBuffer(chunks(8, 20, 1, 0, Amf0.encode("play", 3.0, null, key, -1000.0), 128)));
                return;
            }
            while (chunk(ctx, in)) {
                // one chunk per turn
            }
        }

        /** Parses one chunk if it is all there. */
        private boolean chunk(ChannelHandlerContext ctx, ByteBuf in) {
            int start = in.readerIndex();
            int avail = in.readableBytes();
            if (avail < 1) {
                return false;
            }
            int b0 = in.getUnsignedByte(start);
            int fmt = b0 >>> 6;
            int csid = b0 & 0x3F;
            if (csid < 2) {
                throw new IllegalStateException("the bench player handles chunk stream ids below 64 only");
            }
            int h = switch (fmt) {
                case 0 -> 11;
                case 1 -> 7;
                case 2 -> 3;
                default -> 0;
            };
            if (avail < 1 + h) {
                return false;
            }
            int pos = start + 1;
            int ts = fmt <= 2 ? in.getUnsignedMedium(pos) : 0;
            boolean ext = fmt <= 2 && ts == 0xFFFFFF;
            if (ext && avail < 1 + h + 4) {
                return false;
            }
            boolean fresh = left[csid] == 0;
            int len = fmt <= 1 ? in.getUnsignedMedium(pos + 3) : length[csid];
            int n = Math.min(chunkSize, fresh ? len : left[csid]);
            int headerEnd = pos + h + (ext ? 4 : 0);
            if (avail < headerEnd - start + n) {
                return false;
            }
            if (ext) {
                ts = in.getInt(pos + h);
            }
            if (fmt <= 1) {
                length[csid] = len;
                type[csid] = in.getUnsignedByte(pos + 6);
            }
            if (fresh) {
                if (fmt == 0) {
                    timestamp[csid] = ts;
                    delta[csid] = 0;
                } else if (fmt <= 2) {
                    timestamp[csid] += ts;
                    delta[csid] = ts;
                } else {
                    timestamp[csid] += delta[csid];
                }
                left[csid] = len;
            }
            if (type[csid] == 1 && fresh && n >= 4) {
                chunkSize = in.getInt(headerEnd) & 0x7FFFFFFF;
            } else if (type[csid] == 5 && fresh && n >= 4) {
                window = in.getInt(headerEnd) & 0xFFFFFFFFL;
            }
            left[csid] -= n;
            int used = headerEnd - start + n;
            in.readerIndex(headerEnd + n);
            bytes.addAndGet(used);
            received += used;
            if (left[csid] == 0 && type[csid] == 9) {
                frames.incrementAndGet();
                latency.record(System.nanoTime() / 1000 - (startMicros + timestamp[csid] * 1000L));
            }
            if (window > 0 && received - acked >= window / 2) {
                acked = received;
                int seq = (int) received;
                ctx.writeAndFlush(Unpooled.wrappedBuffer(chunks(2, 3, 0, 0,
                        new byte[]{(byte) (seq >>> 24), (byte) (seq >>> 16), (byte) (seq >>> 8), (byte) seq}, 128)));
            }
            return true;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed = true;
            ctx.close();
        }
    }

    /** A private nginx with the RTMP module on a free port, one worker, in a temp directory. */
    record Nginx(Process process, Path dir, int port) implements AutoCloseable {

        static Nginx start(Path nginx, Path module) throws Exception {
            Path dir = Files.createTempDirectory("media-bench-nginx");
            int port = Net.freePort();
            Path conf = dir.resolve("nginx.conf");
            Files.writeString(conf, """
                    daemon off;
                    master_process on;
                    worker_processes 1;
                    pid %s/nginx.pid;
                    error_log %s/error.log warn;
                    load_module %s;
                    events { worker_connections 16000; }
                    rtmp {
                      server {
                        listen 127.0.0.1:%d;
                        chunk_size 4096;
                        application live { live on; }
                      }
                    }
                    """.formatted(dir, dir, module, port));
            Process p = new ProcessBuilder(nginx.toString(), "-p", dir.toString(), "-e", dir.resolve("error.log").toString(), "-c", conf.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    return new Nginx(p, dir, port);
                } catch (IOException notYet) {
                    if (!p.isAlive()) {
                        break;
                    }
                    Thread.sleep(50);
                }
            }
            p.destroyForcibly();
            throw new IOException("nginx did not start: " + Files.readString(dir.resolve("out.log")));
        }

        long pid() {
            return process.pid();
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            Net.deleteTree(dir);
        }
    }
}
