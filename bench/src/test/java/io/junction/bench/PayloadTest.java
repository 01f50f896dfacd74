package io.junction.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class PayloadTest {

    @Test
    void payloadIsPaddedJsonAndReadsBack() throws Exception {
        ByteBuf b = Payload.write(UnpooledByteBufAllocator.DEFAULT, 100, -123456789012L, 7, 3, 42);
        try {
            assertThat(b.readableBytes()).isEqualTo(100);
            String text = b.toString(StandardCharsets.US_ASCII);
            assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(text).path("s").asLong()).isEqualTo(42);
            Payload p = new Payload();
            assertThat(p.parse(b)).isTrue();
            assertThat(p.t).isEqualTo(-123456789012L);
            assertThat(p.run).isEqualTo(7);
            assertThat(p.device).isEqualTo(3);
            assertThat(p.seq).isEqualTo(42);
        } finally {
            b.release();
        }
    }

    @Test
    void readsTheBodyOfAWebSocketFrameEvenWhenReformatted() {
        String frame = "{\"type\":\"message\",\"message\":{\"offset\":5,\"id\":\"x\",\"ts\":1,\"topic\":\"bench/3/value\","
                + "\"key\":\"bench.3.value\",\"device\":\"bench\",\"kind\":\"status\","
                + "\"body\":{\"t\": 99, \"r\" : 2,\"d\":3,\"s\":4,\"p\":\"xx\"}}}";
        Payload p = new Payload();
        assertThat(p.parse(frame, frame.indexOf("\"body\""))).isTrue();
        assertThat(p.t).isEqualTo(99);
        assertThat(p.run).isEqualTo(2);
        assertThat(p.seq).isEqualTo(4);
        assertThat(p.parse("{\"value\":\"hello\"}", 0)).isFalse();
        assertThat(p.parse(Unpooled.copiedBuffer("not json", StandardCharsets.US_ASCII))).isFalse();
    }

    @Test
    void tooSmallASizeStillGivesAllFields() {
        String s = Payload.toJson(10, 1, 2, 3, 4);
        assertThat(s).isEqualTo("{\"t\":1,\"r\":2,\"d\":3,\"s\":4,\"p\":\"\"}");
    }

    @Test
    void configMergeReplacesPortsAndKeepsTheRest() {
        String base = """
                # mine
                [mqtt]
                port = 1883
                max_payload_bytes = 1000

                [live]
                queue = 50
                """;
        String merged = JunctionServer.mergeConfig(base, 1111, 2222, Path.of("/tmp/d"));
        assertThat(merged).contains("[mqtt]\nport = 1111\nanonymous = true\n")
                .contains("# (replaced by the bench) port = 1883")
                .contains("max_payload_bytes = 1000")
                .contains("queue = 50")
                .contains("[http]\nhost = \"127.0.0.1\"\nport = 2222")
                .contains("[data]\ndir = \"/tmp/d\"");
        assertThat(JunctionServer.mergeConfig("", 1, 2, Path.of("/x"))).contains("[mqtt]\nport = 1\nanonymous = true");
    }

    @Test
    void metricLinesAreSummed() {
        String text = """
                # HELP junction_live_dropped_total messages dropped
                # TYPE junction_live_dropped_total counter
                junction_live_dropped_total{client="a"} 12.0
                junction_live_dropped_total{client="b"} 30.0
                junction_other 5
                """;
        assertThat(OverloadBench.sumMetric(text, "junction_live_dropped")).isEqualTo(42);
        assertThat(OverloadBench.sumMetric("junction_live_dropped 7\n", "junction_live_dropped")).isEqualTo(7);
        assertThat(OverloadBench.sumMetric("nothing 1\n", "junction_live_dropped")).isEqualTo(-1);
    }
}
