package io.junction.ota;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;

import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class DeviceProtocolTest {

    static final ObjectMapper CBOR = new ObjectMapper(new CBORFactory());

    /** The body the pre-processor makes of a CBOR payload. */
    static String wrapped(String hex) {
        return "{\"value\":\"" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(hex)) + "\",\"encoding\":\"base64\"}";
    }

    @Test
    void pyrinasCborRequestsDecode() {
        // {0: 0, 1: 2}: a Pyrinas v2 check, with the protocol version it wants under key 1
        assertThat(DeviceProtocol.decode(wrapped("a2000001 02".replace(" ", ""))).request())
                .contains(new DeviceProtocol.Check(Optional.empty()));
        // {0: 2, 1: "ab", 2: 0, 3: 512}
        DeviceProtocol.Decoded d = DeviceProtocol.decode(wrapped("a4" + "0002" + "01626162" + "0200" + "03190200"));
        assertThat(d.encoding()).isEqualTo(DeviceProtocol.Encoding.CBOR);
        assertThat(d.request()).contains(new DeviceProtocol.Download("ab", 0, 512));
        // {0: 1}
        assertThat(DeviceProtocol.decode(wrapped("a10001")).request()).contains(new DeviceProtocol.Done(Optional.empty(), Optional.empty()));
    }

    @Test
    void badCborRequestsSayWhy() {
        assertThat(DeviceProtocol.decode(wrapped("a10009")).problem()).contains("unknown cmd 9");
        assertThat(DeviceProtocol.decode(wrapped("a10002")).problem()).contains("needs id");
        assertThat(DeviceProtocol.decode(wrapped("83010203")).problem()).contains("not a CBOR map");
    }

    @Test
    void jsonRequestsDecodeAndBadOnesSayWhy() {
        assertThat(DeviceProtocol.decode("{\"type\":\"check\",\"version\":\"1.0.0\"}").request())
                .contains(new DeviceProtocol.Check(Optional.of(PackageVersion.parse("1.0.0"))));
        assertThat(DeviceProtocol.decode("{\"type\":\"download\",\"id\":\"p1\",\"start\":10,\"end\":20}").request())
                .contains(new DeviceProtocol.Download("p1", 10, 20));
        assertThat(DeviceProtocol.decode("{\"type\":\"download\",\"id\":\"p1\",\"start\":20,\"end\":10}").problem()).contains("start < end");
        assertThat(DeviceProtocol.decode("{\"type\":\"failed\"}").problem()).contains("reason");
        assertThat(DeviceProtocol.decode("{\"value\":\"on\"}").problem()).contains("\"type\"");
    }

    @Test
    void theCborOfferHasPyrinasKeysAndTheChecksum() throws Exception {
        OtaPackage p = new OtaPackage("pkg1", PackageVersion.parse("1.2.3+7"), "m", "", 4096, "00".repeat(32),
                Optional.empty(), 0);
        JsonNode n = CBOR.readTree(DeviceProtocol.offer(DeviceProtocol.Encoding.CBOR, p, "r", "/u"));
        assertThat(n.get("0").asText()).isEqualTo("pkg1");
        assertThat(n.get("1").get("0").asInt()).isEqualTo(1);
        assertThat(n.get("1").get("2").asInt()).isEqualTo(3);
        assertThat(n.get("1").get("3").asInt()).isEqualTo(7);
        assertThat(n.get("1").get("4").size()).isEqualTo(8);
        assertThat(n.get("3").asLong()).isEqualTo(4096);
        assertThat(n.get("5").binaryValue()).hasSize(32);
        assertThat(DeviceProtocol.none(DeviceProtocol.Encoding.CBOR)).isEmpty();
    }

    @Test
    void aCborChunkCarriesItsPositionsAndBytes() throws Exception {
        JsonNode n = CBOR.readTree(DeviceProtocol.chunk(DeviceProtocol.Encoding.CBOR, "p", 100, new byte[]{1, 2, 3}));
        assertThat(n.get("0").asLong()).isEqualTo(100);
        assertThat(n.get("1").asLong()).isEqualTo(103);
        assertThat(n.get("2").binaryValue()).containsExactly(1, 2, 3);
        assertThat(n.get("3").asInt()).isEqualTo(3);
    }
}
