package io.junction.store.log;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MessageCodecTest {

    private static Message roundTrip(Message m, long offset) {
        MessageCodec codec = new MessageCodec();
        int size = codec.measure(m);
        byte[] buf = new byte[size + 10];
        assertThat(codec.encode(buf, 5, offset, m)).isEqualTo(size);
        assertThat(MessageCodec.offset(buf, 5)).isEqualTo(offset);
        assertThat(MessageCodec.ts(buf, 5)).isEqualTo(m.ts());
        return MessageCodec.decode(buf, 5, size);
    }

    @Test
    void everyFieldSurvivesEncodingIncludingNonAsciiText() {
        Message m = new Message("5b1c0e3e-0000-4000-8000-000000000001", 1_700_000_000_123L, "maison/séjour/💡/status",
                RoutingKey.of("séjour.lampe.luminosité"), "", "status",
                "{\"name\":\"Ünïcödé 日本語 🎉\",\"v\":" + "9".repeat(300) + "}");
        assertThat(roundTrip(m, 42)).isEqualTo(m);
    }

    @Test
    void theEncodedLengthOfTextIsItsUtf8Length() {
        for (String s : new String[]{"", "abc", "é", "日本", "🎉", "a\uD800b", "\uDC00", "x\uD83C"}) {
            assertThat(MessageCodec.utf8Length(s)).as(s).isEqualTo(s.getBytes(StandardCharsets.UTF_8).length);
        }
    }

    @Test
    void anUnpairedSurrogateIsStoredAsAQuestionMarkLikeTheJdkDoes() {
        Message m = new Message("id", 1, "t", RoutingKey.of("a.b"), "d", "status", "{\"s\":\"x\uD800y\"}");
        assertThat(roundTrip(m, 0).body()).isEqualTo("{\"s\":\"x?y\"}");
    }

    @Test
    void aStringRunningPastTheRecordIsReportedAsDamage() {
        Message m = new Message("id", 1, "t", RoutingKey.of("a.b"), "d", "status", "{}");
        MessageCodec codec = new MessageCodec();
        int size = codec.measure(m);
        byte[] buf = new byte[size];
        codec.encode(buf, 0, 0, m);
        assertThatThrownBy(() -> MessageCodec.decode(buf, 0, size - 1)).hasMessageContaining("damaged record");
    }
}
