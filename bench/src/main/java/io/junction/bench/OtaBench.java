package io.junction.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.mqtt.MqttDecoder;
import io.netty.handler.codec.mqtt.MqttEncoder;
import io.netty.handler.codec.mqtt.MqttFixedHeader;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageIdVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttPubAckMessage;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttPublishVariableHeader;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttVersion;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * {@code bench ota}: three measurements against a Junction child process. (1) N devices check at once against one
 * rollout: offers per second and the time from check to offer. (2) One large image downloaded over HTTP by many
 * clients at once: throughput. (3) A fleet fetching a signed image, half as MQTT chunks (Pyrinas' CBOR) and half
 * over HTTP with Range, a share of them cut off mid-transfer and resuming: every device must end installed, none
 * left in an intermediate state.
 */
final class OtaBench {

    static final String USAGE = """
            usage: bench ota [options]
              --devices N          devices checking at once, and devices in the fleet run (default 1000)
              --clients N          parallel HTTP clients of the big download (default 50)
              --image-mib M        size of the big image in MiB (default 8)
              --fleet-kib K        size of the signed fleet image in KiB (default 1024)
              --disconnect-pct P   fleet devices cut off mid-transfer (default 10)
              --chunk BYTES        MQTT chunk size ([ota] chunk_bytes, default 16384)
              --only WHAT          offers | download | fleet (default: all three)
              --fleet-timeout S    seconds the fleet run may take (default 600)
            """;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final CBORFactory CBOR = new CBORFactory();
    private static final ObjectMapper CBOR_MAPPER = new ObjectMapper(CBOR);

    record Options(int devices, int clients, int imageMib, int fleetKib, int disconnectPct, int chunk, String only,
                   int fleetTimeout) {
    }

    private final Options o;
    private final PrintStream out;
    private final List<String> problems = new ArrayList<>();
    private final Table results = new Table("measurement", "conditions", "result");

    private OtaBench(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
    }

    static int run(String[] args, PrintStream out) throws Exception {
        for (String a : args) {
            if (a.equals("--help") || a.equals("-h")) {
                out.print(USAGE);
                return 0;
            }
        }
        Args a = new Args(args, 0, Set.of("--devices", "--clients", "--image-mib", "--fleet-kib", "--disconnect-pct",
                "--chunk", "--only", "--fleet-timeout"), Set.of());
        String only = a.string("--only", "all");
        if (!Set.of("all", "offers", "download", "fleet").contains(only)) {
            throw new Args.UsageException("--only is offers, download or fleet, got '" + only + "'");
        }
        Options o = new Options(a.integer("--devices", 1000, 1, 20_000), a.integer("--clients", 50, 1, 1000),
                a.integer("--image-mib", 8, 1, 64), a.integer("--fleet-kib", 1024, 1, 16 * 1024),
                a.integer("--disconnect-pct", 10, 0, 100), a.integer("--chunk", 16384, 256, 512 * 1024), only,
                a.integer("--fleet-timeout", 600, 10, 86_400));
        return new OtaBench(o, out).run();
    }

    private int run() throws Exception {
        out.printf(Locale.ROOT, "ota bench: %d devices, %d HTTP clients, %d MiB image, %d KiB signed fleet image, "
                        + "%d%% cut off, %d-byte MQTT chunks%n", o.devices(), o.clients(), o.imageMib(), o.fleetKib(),
                o.disconnectPct(), o.chunk());
        out.printf(Locale.ROOT, "machine: %d cores, JDK %s; the load generator shares them with the server (fsync = always)%n%n",
                Runtime.getRuntime().availableProcessors(), Runtime.version());
        Path tmp = Files.createTempDirectory("ota-bench");
        try {
            Path key = tmp.resolve("ota-key.pem");
            Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                    .encodeToString(KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate().getEncoded())
                    + "\n-----END PRIVATE KEY-----\n");
            Path config = tmp.resolve("bench.toml");
            Files.writeString(config, """
                    [mqtt]
                    max_payload_bytes = %d
                    receive_maximum = 1024

                    [ota]
                    max_image_bytes = %d
                    chunk_bytes = %d
                    offer_timeout_seconds = 60
                    download_timeout_seconds = 60
                    signing_key = "%s"
                    """.formatted(Math.max(256 * 1024, o.chunk() * 2 + 4096), 64L * 1024 * 1024, o.chunk(),
                    key.toAbsolutePath().toString().replace("\\", "\\\\")));
            out.println("starting Junction (child JVM, -Xmx2g) ...");
            try (JunctionServer server = JunctionServer.start(config, "2g");
                 MqttPool pool = new MqttPool()) {
                out.printf(Locale.ROOT, "Junction ready (MQTT port %d, HTTP port %d, pid %d)%n%n", server.mqttPort(),
                        server.httpPort(), server.pid());
                if (o.only().equals("all") || o.only().equals("offers")) {
                    guarded("offers", () -> offers(server, pool));
                }
                if (o.only().equals("all") || o.only().equals("download")) {
                    guarded("download", () -> download(server));
                }
                if (o.only().equals("all") || o.only().equals("fleet")) {
                    guarded("fleet", () -> fleet(server, pool));
                }
                if (!server.isAlive()) {
                    problems.add("the server died:\n" + server.logTail(40));
                }
            }
        } finally {
            Net.deleteTree(tmp);
        }
        out.println();
        out.print(results.render());
        for (String p : problems) {
            out.println("PROBLEM: " + p);
        }
        return problems.isEmpty() ? 0 : 1;
    }

    interface Step {
        void run() throws Exception;
    }

    private void guarded(String name, Step step) {
        try {
            step.run();
        } catch (Exception e) {
            problems.add(name + ": " + e);
            out.println(name + " failed: " + e);
        }
    }

    // ---- 1: N devices check at once ----

    private void offers(JunctionServer server, MqttPool pool) throws Exception {
        int n = o.devices();
        String pkg = upload(server, random(64 * 1024, 1), "1.0.0", "bench-offers");
        long[] sentAt = new long[n];
        AtomicLong lastOffer = new AtomicLong();
        java.util.concurrent.atomic.AtomicReference<CountDownLatch> offered = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicReference<LatencyHistogram> toOffer = new java.util.concurrent.atomic.AtomicReference<>();
        List<BenchDevice> devices = new ArrayList<>();
        out.printf(Locale.ROOT, "offers: connecting %d devices ...%n", n);
        for (int i = 0; i < n; i++) {
            int index = i;
            devices.add(pool.connect(server.mqttPort(), "bo-" + i, (topic, payload) -> {
                if (topic.endsWith("/ota/s") && payload.length > 0 && payload[0] == '{'
                        && new String(payload, StandardCharsets.UTF_8).contains("\"offer\"")) {
                    long now = System.nanoTime();
                    toOffer.get().record((now - sentAt[index]) / 1000);
                    lastOffer.accumulateAndGet(now, Math::max);
                    offered.get().countDown();
                }
            }));
        }
        for (BenchDevice d : devices) {
            d.ready.get(30, TimeUnit.SECONDS);
        }
        List<String> uids = devices.stream().map(d -> d.uid).toList();
        post(server, "/api/ota/rollouts", JSON.writeValueAsString(java.util.Map.of("package", pkg, "devices", uids)));
        byte[] check = "{\"type\":\"check\",\"version\":\"0.9.0\"}".getBytes(StandardCharsets.UTF_8);
        // The first pass meets a cold server (JIT, first offers); the second asks again once it is warm.
        for (String pass : List.of("first, cold", "second, warm")) {
            CountDownLatch latch = new CountDownLatch(n);
            offered.set(latch);
            toOffer.set(new LatencyHistogram());
            lastOffer.set(0);
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                sentAt[i] = System.nanoTime();
                devices.get(i).publish(check);
            }
            boolean all = latch.await(120, TimeUnit.SECONDS);
            double seconds = (lastOffer.get() - start) / 1e9;
            long got = n - latch.getCount();
            LatencyHistogram h = toOffer.get();
            out.printf(Locale.ROOT, "offers (%s): %d of %d devices offered in %.2f s%n", pass, got, n, seconds);
            results.add("checks -> offers (" + pass + ")", n + " devices check at once, 1 rollout",
                    String.format(Locale.ROOT, "%s offers/s; to offer p50 %s ms, p99 %s ms, max %s ms", Table.rate(got / seconds),
                            Table.ms(h.percentile(50)), Table.ms(h.percentile(99)), Table.ms(h.max())));
            if (!all) {
                problems.add("offers: only " + got + " of " + n + " devices got an offer within 120 s");
            }
            Thread.sleep(1000);
        }
        devices.forEach(BenchDevice::close);
    }

    // ---- 2: one big image to many HTTP clients ----

    private void download(JunctionServer server) throws Exception {
        int size = o.imageMib() * 1024 * 1024;
        byte[] image = random(size, 2);
        String note = "";
        String pkg;
        try {
            pkg = upload(server, image, "1.0.0", "bench-big");
        } catch (IOException e) {
            if (!e.getMessage().contains("413")) {
                throw e;
            }
            // The HTTP server's body limit (1 MiB unless raised in the composition root) refuses larger uploads.
            size = 1024 * 1024;
            image = random(size, 2);
            pkg = upload(server, image, "1.0.0", "bench-big");
            note = " (the " + o.imageMib() + " MiB upload was refused with 413: the API body limit is 1 MiB; measured with 1 MiB)";
            out.println("download: " + note.strip());
        }
        String sha = HexFormat.of().formatHex(sha256(image));
        String url = server.baseUrl() + "/ota/images/" + pkg;
        int clients = o.clients();
        out.printf(Locale.ROOT, "download: %d clients fetch a %d-byte image ...%n", clients, size);
        AtomicInteger bad = new AtomicInteger();
        LatencyHistogram each = new LatencyHistogram();
        long start = System.nanoTime();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < clients; i++) {
                ex.submit(() -> {
                    long t = System.nanoTime();
                    try {
                        HttpResponse<byte[]> r = Net.http().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5)).GET().build(),
                                HttpResponse.BodyHandlers.ofByteArray());
                        if (r.statusCode() != 200 || !HexFormat.of().formatHex(sha256(r.body())).equals(sha)) {
                            bad.incrementAndGet();
                        }
                    } catch (IOException | InterruptedException e) {
                        bad.incrementAndGet();
                    }
                    each.record((System.nanoTime() - t) / 1000);
                    return null;
                });
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double mib = (double) size * clients / (1024 * 1024);
        results.add("HTTP image download", clients + " clients x " + (size / 1024) + " KiB" + note,
                String.format(Locale.ROOT, "%.1f MiB/s (%.1f MiB in %.2f s); per client p50 %s ms, max %s ms; %d bad",
                        mib / seconds, mib, seconds, Table.ms(each.percentile(50)), Table.ms(each.max()), bad.get()));
        if (bad.get() > 0) {
            problems.add("download: " + bad.get() + " clients got a wrong or failed download");
        }
    }

    // ---- 3: a fleet fetching a signed image, half over MQTT chunks, half over HTTP Range, some cut off ----

    private void fleet(JunctionServer server, MqttPool pool) throws Exception {
        int n = o.devices();
        byte[] image = random(o.fleetKib() * 1024, 3);
        String pkg = upload(server, image, "2.0.0", "bench-fleet");
        JsonNode keyInfo = JSON.readTree(Net.get(server.baseUrl() + "/api/ota/signing-key", Duration.ofSeconds(10), server.token()).body());
        PublicKey publicKey = KeyFactory.getInstance("Ed25519").generatePublic(
                new X509EncodedKeySpec(Base64.getDecoder().decode(keyInfo.get("publicKey").asText())));
        List<String> uids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            uids.add("bf-" + i);
        }
        String rollout = JSON.readTree(post(server, "/api/ota/rollouts",
                JSON.writeValueAsString(java.util.Map.of("package", pkg, "devices", uids)))).get("id").asText();
        int cut = n * o.disconnectPct() / 100;
        Random chance = new Random(4);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, chance);
        Set<Integer> cutOff = new java.util.HashSet<>(order.subList(0, cut));
        out.printf(Locale.ROOT, "fleet: %d devices (%d over MQTT chunks, %d over HTTP Range), %d cut off mid-transfer ...%n",
                n, (n + 1) / 2, n / 2, cut);
        CountDownLatch finished = new CountDownLatch(n);
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger resumed = new AtomicInteger();
        long start = System.nanoTime();
        ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
        try {
            for (int i = 0; i < n; i++) {
                FleetDevice d = new FleetDevice(uids.get(i), i % 2 == 0, cutOff.contains(i), publicKey, server, pool, http,
                        finished, failures, resumed);
                d.start();
                if (i % 50 == 49) {
                    Thread.sleep(20);   // connects in waves, as a fleet coming online does
                }
            }
            boolean all = finished.await(o.fleetTimeout(), TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            JsonNode counts = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                counts = JSON.readTree(Net.get(server.baseUrl() + "/api/ota/rollouts/" + rollout, Duration.ofSeconds(30), server.token()).body()).get("counts");
                if (counts.get("installed").asInt() == n) {
                    break;
                }
                Thread.sleep(250);
            }
            int installed = counts.get("installed").asInt();
            int intermediate = counts.get("offered").asInt() + counts.get("downloading").asInt();
            results.add("fleet install", n + " devices, " + o.fleetKib() + " KiB signed image, half MQTT "
                            + o.chunk() + "-byte chunks / half HTTP Range, " + cut + " cut off",
                    String.format(Locale.ROOT, "%d/%d installed in %.1f s (%d resumed after a cut); %d left offered/downloading, %d failed; "
                                    + "%.1f MiB/s delivered", installed, n, seconds, resumed.get(), intermediate,
                            counts.get("failed").asInt(), (double) image.length * n / (1024 * 1024) / seconds));
            if (!all || installed != n) {
                problems.add("fleet: " + installed + " of " + n + " installed (" + (n - finished.getCount())
                        + " devices finished); first failures: " + failures.stream().limit(5).toList());
            }
        } finally {
            http.shutdownNow();
        }
    }

    /** One simulated device of the fleet run: checks, downloads (MQTT chunks or HTTP Range), verifies, reports done. */
    private final class FleetDevice {
        final String uid;
        final boolean overMqtt;
        final boolean cutOff;
        final PublicKey publicKey;
        final JunctionServer server;
        final MqttPool pool;
        final ExecutorService http;
        final CountDownLatch finished;
        final ConcurrentLinkedQueue<String> failures;
        final AtomicInteger resumed;
        final MessageDigest digest;
        volatile BenchDevice mqtt;
        String id;
        long size;
        byte[] sha;
        byte[] signature;
        String url;
        long position;
        boolean started;
        boolean wasCut;
        boolean done;

        FleetDevice(String uid, boolean overMqtt, boolean cutOff, PublicKey publicKey, JunctionServer server, MqttPool pool,
                    ExecutorService http, CountDownLatch finished, ConcurrentLinkedQueue<String> failures, AtomicInteger resumed)
                throws NoSuchAlgorithmException {
            this.uid = uid;
            this.overMqtt = overMqtt;
            this.cutOff = cutOff;
            this.publicKey = publicKey;
            this.server = server;
            this.pool = pool;
            this.http = http;
            this.finished = finished;
            this.failures = failures;
            this.resumed = resumed;
            this.digest = MessageDigest.getInstance("SHA-256");
        }

        void start() {
            connect(true);
        }

        private void connect(boolean check) {
            BenchDevice d = pool.connect(server.mqttPort(), uid, this::onMessage);
            mqtt = d;
            d.ready.whenComplete((ok, e) -> {
                if (e != null) {
                    fail("connect: " + e);
                } else if (check) {
                    d.publish(overMqtt ? cbor(0) : "{\"type\":\"check\",\"version\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
                } else if (overMqtt) {
                    synchronized (this) {
                        requestChunk();
                    }
                } else {
                    http.submit(this::httpDownload);
                }
            });
        }

        private synchronized void onMessage(String topic, byte[] payload) {
            if (done) {
                return;
            }
            try {
                if (topic.endsWith("/ota/s")) {
                    if (payload.length == 0 || started) {
                        return;   // no update (should not happen), or an offer again after a reconnect
                    }
                    if (overMqtt) {
                        if (payload[0] == '{') {
                            return;   // a JSON offer pushed before the server knew this device speaks CBOR
                        }
                        JsonNode n = CBOR_MAPPER.readTree(payload);
                        id = n.get("0").asText();
                        size = n.get("3").asLong();
                        sha = n.get("5").binaryValue();
                        signature = n.get("6").binaryValue();
                        started = true;
                        requestChunk();
                    } else {
                        JsonNode n = JSON.readTree(payload);
                        if (!n.path("type").asText().equals("offer")) {
                            return;
                        }
                        id = n.get("id").asText();
                        size = n.get("size").asLong();
                        sha = HexFormat.of().parseHex(n.get("sha256").asText());
                        signature = Base64.getDecoder().decode(n.get("signature").asText());
                        url = server.baseUrl() + n.get("url").asText();
                        started = true;
                        http.submit(this::httpDownload);
                    }
                } else if (topic.endsWith("/ota/s/d") && overMqtt) {
                    JsonNode n = CBOR_MAPPER.readTree(payload);
                    long start = n.get("0").asLong();
                    if (start != position) {
                        return;   // a duplicate after a reconnect
                    }
                    byte[] data = n.get("2").binaryValue();
                    digest.update(data);
                    position += data.length;
                    if (position >= size) {
                        finish();
                    } else if (cutOff && !wasCut && position >= size / 2) {
                        cut();
                    } else {
                        requestChunk();
                    }
                }
            } catch (IOException | RuntimeException e) {
                fail(e.toString());
            }
        }

        private void requestChunk() {
            mqtt.publish(cbor(2, id, position, Math.min(size, position + o.chunk())));
        }

        /** The link drops: the MQTT connection closes; the device comes back after a while and resumes. */
        private void cut() {
            wasCut = true;
            BenchDevice old = mqtt;
            old.close();
            CompletableFuture.delayedExecutor(1000 + (uid.hashCode() & 1023), TimeUnit.MILLISECONDS).execute(() -> {
                resumed.incrementAndGet();
                connect(false);
            });
        }

        private void httpDownload() {
            try {
                long piece = Math.max(o.chunk(), size / 4);
                while (true) {
                    long from;
                    synchronized (this) {
                        from = position;
                        if (from >= size) {
                            break;
                        }
                        if (cutOff && !wasCut && from >= size / 2) {
                            cut();
                            return;
                        }
                    }
                    long to = Math.min(size, from + piece) - 1;
                    HttpResponse<byte[]> r = Net.http().send(HttpRequest.newBuilder(URI.create(url))
                            .header("Range", "bytes=" + from + "-" + to).timeout(Duration.ofSeconds(60)).GET().build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    if (r.statusCode() != 206) {
                        fail("HTTP " + r.statusCode());
                        return;
                    }
                    synchronized (this) {
                        digest.update(r.body());
                        position += r.body().length;
                    }
                }
                synchronized (this) {
                    finish();
                }
            } catch (IOException | InterruptedException e) {
                fail(e.toString());
            }
        }

        private void finish() {
            byte[] got = digest.digest();
            if (!MessageDigest.isEqual(got, sha)) {
                fail("checksum mismatch");
                return;
            }
            try {
                Signature v = Signature.getInstance("Ed25519");
                v.initVerify(publicKey);
                v.update(got);
                if (!v.verify(signature)) {
                    fail("bad signature");
                    return;
                }
            } catch (java.security.GeneralSecurityException e) {
                fail(e.toString());
                return;
            }
            done = true;
            mqtt.publish(overMqtt ? cbor(1, id) : "{\"type\":\"done\",\"version\":\"2.0.0\"}".getBytes(StandardCharsets.UTF_8));
            finished.countDown();
            CompletableFuture.delayedExecutor(2, TimeUnit.SECONDS).execute(() -> mqtt.close());
        }

        private void fail(String why) {
            if (failures.size() < 100) {
                failures.add(uid + ": " + why);
            }
        }
    }

    // ---- helpers ----

    private static String upload(JunctionServer server, byte[] image, String version, String target) throws Exception {
        HttpResponse<String> r = Net.http().send(Net.bearer(HttpRequest.newBuilder(URI.create(server.baseUrl()
                                + "/api/ota/packages?version=" + version + "&target=" + target)), server.token())
                        .header("Content-Type", "application/octet-stream").timeout(Duration.ofMinutes(2))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(image)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IOException("upload answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body()).get("id").asText();
    }

    private static String post(JunctionServer server, String path, String json) throws Exception {
        HttpResponse<String> r = Net.http().send(Net.bearer(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)), server.token())
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("POST " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A Pyrinas request: {0: cmd, 1: id?, 2: start_pos?, 3: end_pos?}. */
    private static byte[] cbor(int cmd, Object... rest) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(48);
        try (CBORGenerator g = CBOR.createGenerator(out)) {
            g.writeStartObject();
            g.writeFieldId(0);
            g.writeNumber(cmd);
            for (int i = 0; i < rest.length; i++) {
                g.writeFieldId(i + 1);
                if (rest[i] instanceof String s) {
                    g.writeString(s);
                } else {
                    g.writeNumber((Long) rest[i]);
                }
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** The event loops shared by every simulated device of the bench. */
    static final class MqttPool implements AutoCloseable {
        final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());

        BenchDevice connect(int port, String uid, BiConsumer<String, byte[]> sink) {
            BenchDevice d = new BenchDevice(uid, sink);
            new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new MqttDecoder(4 * 1024 * 1024), MqttEncoder.INSTANCE, d);
                        }
                    })
                    .connect("127.0.0.1", port).addListener(f -> {
                        if (!f.isSuccess()) {
                            d.ready.completeExceptionally(f.cause());
                        }
                    });
            return d;
        }

        @Override
        public void close() {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * A device's MQTT 3.1.1 connection: connects as {@code uid}, subscribes to {@code <uid>/ota/s/#}, publishes its
     * requests on {@code <uid>/ota/p} at QoS 1 and hands what it receives to its sink (on the event loop).
     */
    static final class BenchDevice extends SimpleChannelInboundHandler<MqttMessage> {
        final String uid;
        final BiConsumer<String, byte[]> sink;
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        private volatile Channel channel;
        private final AtomicInteger packetIds = new AtomicInteger();

        BenchDevice(String uid, BiConsumer<String, byte[]> sink) {
            this.uid = uid;
            this.sink = sink;
        }

        void publish(byte[] payload) {
            Channel c = channel;
            if (c == null || !c.isActive()) {
                return;
            }
            int id = (packetIds.incrementAndGet() & 0x7FFF) + 1;
            c.writeAndFlush(new MqttPublishMessage(new MqttFixedHeader(MqttMessageType.PUBLISH, false, MqttQoS.AT_LEAST_ONCE, false, 0),
                    new MqttPublishVariableHeader(uid + "/ota/p", id), Unpooled.wrappedBuffer(payload)));
        }

        void close() {
            Channel c = channel;
            if (c != null && c.isActive()) {
                c.writeAndFlush(MqttMessage.DISCONNECT).addListener(f -> c.close());
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            ctx.writeAndFlush(MqttMessageBuilders.connect().clientId(uid).protocolVersion(MqttVersion.MQTT_3_1_1)
                    .cleanSession(true).keepAlive(120).build());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, MqttMessage m) {
            if (m.decoderResult().isFailure()) {
                ready.completeExceptionally(m.decoderResult().cause());
                ctx.close();
                return;
            }
            switch (m.fixedHeader().messageType()) {
                case CONNACK -> ctx.writeAndFlush(MqttMessageBuilders.subscribe().messageId(1)
                        .addSubscription(MqttQoS.AT_LEAST_ONCE, uid + "/ota/s/#").build());
                case SUBACK -> ready.complete(null);
                case PUBLISH -> {
                    MqttPublishMessage p = (MqttPublishMessage) m;
                    if (p.fixedHeader().qosLevel() == MqttQoS.AT_LEAST_ONCE) {
                        ctx.writeAndFlush(new MqttPubAckMessage(new MqttFixedHeader(MqttMessageType.PUBACK, false, MqttQoS.AT_MOST_ONCE, false, 0),
                                MqttMessageIdVariableHeader.from(p.variableHeader().packetId())));
                    }
                    sink.accept(p.variableHeader().topicName(), ByteBufUtil.getBytes(p.payload()));
                }
                default -> {
                    // PUBACK, PINGRESP: nothing to do
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ready.completeExceptionally(new IOException(uid + ": connection closed"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ready.completeExceptionally(cause);
            ctx.close();
        }
    }
}
