package io.junction.mqtt.ingress;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;

class PreProcessorTest {

    private static String body(String payload) {
        return PreProcessor.body(payload.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aJsonObjectStaysAsItIs() {
        assertThat(body("{\"env\":{\"temp\":21.5}}")).isEqualTo("{\"env\":{\"temp\":21.5}}");
        assertThat(body("  {\"a\": 1}\n")).isEqualTo("{\"a\": 1}");
    }

    @Test
    void otherJsonValuesAreWrappedAndNumbersStayNumbers() {
        assertThat(body("255")).isEqualTo("{\"value\":255}");
        assertThat(body("-1.5e3")).isEqualTo("{\"value\":-1.5e3}");
        assertThat(body("true")).isEqualTo("{\"value\":true}");
        assertThat(body("[1,2]")).isEqualTo("{\"value\":[1,2]}");
        assertThat(body("\"on\"")).isEqualTo("{\"value\":\"on\"}");
    }

    @Test
    void textThatIsNotJsonIsWrappedAsAString() {
        assertThat(body("on")).isEqualTo("{\"value\":\"on\"}");
        assertThat(body("say \"hi\"\n")).isEqualTo("{\"value\":\"say \\\"hi\\\"\\n\"}");
        assertThat(body("{broken")).isEqualTo("{\"value\":\"{broken\"}");
        assertThat(body("1 2")).isEqualTo("{\"value\":\"1 2\"}");
        assertThat(body("")).isEqualTo("{\"value\":\"\"}");
    }

    @Test
    void bytesThatAreNotUtf8AreKeptAsBase64() {
        byte[] binary = {(byte) 0xC3, (byte) 0x28, 0x00, (byte) 0xFF};
        assertThat(PreProcessor.body(binary))
                .isEqualTo("{\"value\":\"" + Base64.getEncoder().encodeToString(binary) + "\",\"encoding\":\"base64\"}");
    }
}
