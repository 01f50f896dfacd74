package io.junction.media.rtmp;

import io.junction.media.MediaSettings;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The RTMP endpoint against a hand-written client: handshake, chunking, commands, relay and bad input. */
class RtmpServerTest {

    private static final byte[] AVC_HEADER = {0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1E, (byte) 0xFF};
    private static final byte[] AAC_HEADER = {(byte) 0xAF, 0, 0x12, 0x10};
    private static final byte[] KEY = {0x17, 1, 0, 0, 0, 9, 9, 9};
    private static final byte[] INTER = {0x27, 1, 0, 0, 0, 8, 8};
    private static final byte[] AUDIO = {(byte) 0xAF, 1, 7, 7, 7};

    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    private final Map<String, StreamOutlet> outlets = new ConcurrentHashMap<>();
    private final List<String> ended = new ArrayList<>();
    private RtmpServer server;

    /** A publisher's sink that feeds {@code outlet}; {@code onEnd} runs when the publisher stops, before the outlet ends. */
    private static MediaSink into(StreamOutlet outlet, Runnable onEnd) {
        return new MediaSink() {
            @Override
            public void media(MediaPacket packet) {
                outlet.media(packet);
            }

            @Override
            public void end() {
                onEnd.run();
                outlet.ended();
            }
        };
    }

    /** A publisher's sink whose end keeps the players waiting for the next publish (a grace period that never ends). */
    private static MediaSink interrupting(StreamOutlet outlet) {
        return new MediaSink() {
            @Override
            public void media(MediaPacket packet) {
                outlet.media(packet);
            }

            @Override
            public void end() {
                outlet.interrupted();
            }
        };
    }

    /** Accepts publishes and plays on app "live" except the stream key "nope"; one outlet per key. */
    private final RtmpGate gate = new RtmpGate() {
        @Override
        public CompletableFuture<MediaSink> publish(String app, String key, String remote, Runnable close) {
            if (!app.equals("live") || key.equals("nope")) {
                return CompletableFuture.failedFuture(new Refused("no workflow accepts " + app + "/" + key));
            }
            StreamOutlet o = outlets.computeIfAbsent(key, k -> new StreamOutlet(1 << 20));
            if (key.startsWith("wait")) {
                return CompletableFuture.completedFuture(interrupting(o));
            }
            return CompletableFuture.completedFuture(into(o, () -> {
                synchronized (ended) {
                    ended.add(key);
                }
            }));
        }

        @Override
        public void play(String app, String key, RtmpPlayer player) throws Refused {
            if (!app.equals("live")) {
                throw new Refused("nothing to play on " + app);
            }
            outlets.computeIfAbsent(key, k -> new StreamOutlet(1 << 20)).add(player);
        }
    };

    @BeforeEach
    void start() {
        server = RtmpServer.start(new MediaSettings.Rtmp("127.0.0.1", 0, Optional.empty(), 64 * 1024, 65_536, 4096,
                2_500_000, 1 << 20, 1 << 20, java.time.Duration.ZERO), gate, metrics);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private TestRtmpClient publisher(String key) throws Exception {
        TestRtmpClient c = new TestRtmpClient(server.port());
        c.handshake();
        int sid = c.connect("live");
        c.command(sid, "publish", 0.0, null, key, "live");
        assertThat(c.expectStatus()).containsEntry("code", "NetStream.Publish.Start");
        return c;
    }

    private static void sendStart(TestRtmpClient pub) throws Exception {
        pub.send(5, 18, 1, 0, new Amf0.Writer().value("@setDataFrame").value("onMetaData").ecmaArray(Map.of("width", 320.0)).toBytes());
        pub.send(6, 9, 1, 0, AVC_HEADER);
        pub.send(4, 8, 1, 0, AAC_HEADER);
        pub.send(6, 9, 1, 40, KEY);
        pub.send(6, 9, 1, 80, INTER);
        pub.send(4, 8, 1, 90, AUDIO);
    }

    /** Reads a player's messages until {@code n} audio/video/data messages arrived. */
    private static List<TestRtmpClient.Msg> media(TestRtmpClient player, int n) throws Exception {
        List<TestRtmpClient.Msg> out = new ArrayList<>();
        while (out.size() < n) {
            TestRtmpClient.Msg m = player.read();
            assertThat(m).as("connection open").isNotNull();
            if (m.typeId() == 8 || m.typeId() == 9 || (m.typeId() == 18 && "onMetaData".equals(m.amf().getFirst()))) {
                out.add(m);
            }
        }
        return out;
    }

    @Test
    void lateJoinerGetsMetadataSequenceHeadersAndStartsAtTheKeyFrame() throws Exception {
        try (TestRtmpClient pub = publisher("cam")) {
            sendStart(pub);
            await().until(() -> outlets.get("cam").packets() == 6);
            try (TestRtmpClient player = new TestRtmpClient(server.port())) {
                player.handshake();
                int sid = player.connect("live");
                player.command(sid, "play", 3.0, null, "cam");
                assertThat(player.expectStatus()).containsEntry("code", "NetStream.Play.Reset");
                assertThat(player.expectStatus()).containsEntry("code", "NetStream.Play.Start");
                List<TestRtmpClient.Msg> got = media(player, 6);
                assertThat(got.get(0).amf()).first().isEqualTo("onMetaData");
                assertThat(got.get(0).amf().get(1)).isEqualTo(Map.of("width", 320.0));
                assertThat(got.get(1).payload()).isEqualTo(AVC_HEADER);
                assertThat(got.get(2).payload()).isEqualTo(AAC_HEADER);
                assertThat(got.get(3).payload()).isEqualTo(KEY);
                assertThat(got.get(3).timestamp()).isEqualTo(40);
                assertThat(got.get(4).payload()).isEqualTo(INTER);
                assertThat(got.get(5).payload()).isEqualTo(AUDIO);

                // Live frames follow, also across a chunk size change and messages larger than one chunk.
                pub.setChunkSize(1000);
                byte[] big = new byte[10_000];
                big[0] = 0x27;
                big[1] = 1;
                for (int i = 2; i < big.length; i++) {
                    big[i] = (byte) i;
                }
                pub.send(6, 9, 1, 120, big);
                TestRtmpClient.Msg live = media(player, 1).getFirst();
                assertThat(live.payload()).isEqualTo(big);
                assertThat(live.timestamp()).isEqualTo(120);
            }
        }
    }

    @Test
    void playerThatJoinsMidGroupWaitsForTheNextKeyFrameWhenNothingIsCached() throws Exception {
        server.close();
        server = RtmpServer.start(new MediaSettings.Rtmp("127.0.0.1", 0, Optional.empty(), 64 * 1024, 65_536, 4096,
                2_500_000, 0, 1 << 20, java.time.Duration.ZERO), new RtmpGate() {
            final StreamOutlet o = new StreamOutlet(0);

            @Override
            public CompletableFuture<MediaSink> publish(String app, String key, String remote, Runnable close) {
                return CompletableFuture.completedFuture(into(o, () -> { }));
            }

            @Override
            public void play(String app, String key, RtmpPlayer player) {
                o.add(player);
            }
        }, new SimpleMeterRegistry());
        try (TestRtmpClient pub = publisher("cam"); TestRtmpClient player = new TestRtmpClient(server.port())) {
            sendStart(pub);
            player.handshake();
            int sid = player.connect("live");
            player.command(sid, "play", 3.0, null, "cam");
            player.expectStatus();
            player.expectStatus();
            List<TestRtmpClient.Msg> headers = media(player, 3);
            assertThat(headers.get(1).payload()).isEqualTo(AVC_HEADER);
            pub.send(6, 9, 1, 200, INTER);
            pub.send(4, 8, 1, 210, AUDIO);
            pub.send(6, 9, 1, 240, KEY);
            assertThat(media(player, 1).getFirst().payload()).as("frames before the key frame are skipped").isEqualTo(KEY);
        }
    }

    @Test
    void publishThatNoWorkflowAcceptsIsRefusedWithAnOnStatusError() throws Exception {
        try (TestRtmpClient c = new TestRtmpClient(server.port())) {
            c.handshake();
            int sid = c.connect("live");
            c.command(sid, "publish", 0.0, null, "nope", "live");
            Map<String, Object> status = c.expectStatus();
            assertThat(status).containsEntry("level", "error").containsEntry("code", "NetStream.Publish.BadName");
            assertThat((String) status.get("description")).contains("no workflow accepts live/nope");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(metrics.counter("junction_rtmp_refused").count()).isEqualTo(1.0);
    }

    @Test
    void garbageBytesCloseOnlyThatConnectionAndTheStreamGoesOn() throws Exception {
        try (TestRtmpClient pub = publisher("cam"); TestRtmpClient player = new TestRtmpClient(server.port())) {
            sendStart(pub);
            player.handshake();
            player.command(player.connect("live"), "play", 3.0, null, "cam");
            media(player, 6);

            try (Socket garbage = new Socket("127.0.0.1", server.port())) {
                garbage.setSoTimeout(5_000);
                OutputStream o = garbage.getOutputStream();
                o.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                o.flush();
                assertThat(garbage.getInputStream().read()).as("closed by the server").isEqualTo(-1);
            }
            await().until(() -> metrics.find("junction_rtmp_rejected").tag("reason", "handshake").counter() != null);

            pub.send(6, 9, 1, 300, KEY);
            assertThat(media(player, 1).getFirst().timestamp()).isEqualTo(300);
        }
    }

    @Test
    void chunkSizeOfZeroOrAboveTheLimitClosesTheConnection() throws Exception {
        for (int size : new int[]{0, 65_537}) {
            try (TestRtmpClient c = new TestRtmpClient(server.port())) {
                c.handshake();
                c.connect("live");
                c.setChunkSize(size);
                assertThat(c.closedByServer()).as("chunk size " + size).isTrue();
            }
        }
        assertThat(metrics.counter("junction_rtmp_rejected", "reason", "chunk_size").count()).isEqualTo(2.0);
    }

    @Test
    void messageLargerThanAllowedClosesTheConnection() throws Exception {
        try (TestRtmpClient c = new TestRtmpClient(server.port())) {
            c.handshake();
            c.connect("live");
            // Only the header: the announced length alone must be refused, before any payload is buffered.
            c.raw(new byte[]{6, 0, 0, 0, 0x10, 0, 0, 9, 1, 0, 0, 0});
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(metrics.counter("junction_rtmp_rejected", "reason", "message_size").count()).isEqualTo(1.0);
    }

    @Test
    void serverAcknowledgesOnceThePeersWindowIsUsedAndAnswersPings() throws Exception {
        try (TestRtmpClient c = new TestRtmpClient(server.port())) {
            c.handshake();
            c.connect("live");
            c.send(2, 5, 0, 0, new byte[]{0, 0, 0x08, 0});   // window acknowledgement size 2048
            c.send(4, 8, 0, 0, new byte[3000]);               // audio on no published stream: read and ignored
            TestRtmpClient.Msg ack;
            do {
                ack = c.read();
            } while (ack != null && ack.typeId() != 3);
            assertThat(ack).isNotNull();
            int seq = ((ack.payload()[0] & 0xFF) << 24) | ((ack.payload()[1] & 0xFF) << 16) | ((ack.payload()[2] & 0xFF) << 8) | (ack.payload()[3] & 0xFF);
            assertThat(seq).isGreaterThanOrEqualTo(2048);

            c.send(2, 4, 0, 0, new byte[]{0, 6, 0, 0, 0x30, 0x39});   // ping request 12345
            TestRtmpClient.Msg pong;
            do {
                pong = c.read();
            } while (pong != null && pong.typeId() != 4);
            assertThat(pong.payload()).containsExactly(0, 7, 0, 0, 0x30, 0x39);
        }
    }

    @Test
    void endOfPublishTellsThePlayersAndTheGate() throws Exception {
        try (TestRtmpClient player = new TestRtmpClient(server.port())) {
            player.handshake();
            player.command(player.connect("live"), "play", 3.0, null, "cam");
            player.expectStatus();
            player.expectStatus();
            try (TestRtmpClient pub = publisher("cam")) {
                sendStart(pub);
                assertThat(media(player, 6).get(3).payload()).isEqualTo(KEY);
                pub.command(1, "deleteStream", 4.0, null, 1.0);
                assertThat(player.expectStatus()).containsEntry("code", "NetStream.Play.UnpublishNotify");
            }
        }
        synchronized (ended) {
            assertThat(ended).containsExactly("cam");
        }
    }

    @Test
    void aPlayerWaitingThroughAPublishersReconnectGetsTheNextPublishWithItsHeadersAndTimestampsThatGoOn() throws Exception {
        try (TestRtmpClient player = new TestRtmpClient(server.port())) {
            player.handshake();
            player.command(player.connect("live"), "play", 3.0, null, "wait1");
            player.expectStatus();
            player.expectStatus();
            try (TestRtmpClient pub = publisher("wait1")) {
                sendStart(pub);
                assertThat(media(player, 6).get(3).timestamp()).isEqualTo(40);
                pub.command(1, "deleteStream", 4.0, null, 1.0);
            }
            try (TestRtmpClient pub = publisher("wait1")) {
                sendStart(pub);
                List<TestRtmpClient.Msg> got = new ArrayList<>();
                while (got.size() < 6) {
                    TestRtmpClient.Msg m = player.read();
                    assertThat(m).as("connection open").isNotNull();
                    if (m.typeId() == 20) {
                        assertThat(m.amf()).as("nothing tells the player that the stream stopped").doesNotContain("onStatus");
                    } else if (m.typeId() == 8 || m.typeId() == 9 || m.typeId() == 18) {
                        got.add(m);
                    }
                }
                // The new publish from its start: metadata and sequence headers first, so the decoder goes on...
                assertThat(got.get(0).amf()).first().isEqualTo("onMetaData");
                assertThat(got.get(1).payload()).isEqualTo(AVC_HEADER);
                assertThat(got.get(2).payload()).isEqualTo(AAC_HEADER);
                assertThat(got.get(3).payload()).isEqualTo(KEY);
                // ...with timestamps that go on after the last one the player got (90), not back to 0.
                assertThat(got).extracting(TestRtmpClient.Msg::timestamp).containsExactly(91, 91, 91, 131, 171, 181);
            }
        }
    }
}
