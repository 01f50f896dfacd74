package io.junction.telemetry;

import io.junction.core.telemetry.FieldValue;
import io.junction.core.telemetry.Point;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class LineProtocolTest {

    private static final long NOW = 1_767_225_600_123_456_789L;

    private static List<Point> one(String line) {
        LineProtocol.Result r = LineProtocol.parse(line, 1, NOW);
        assertThat(r.errors()).as("errors of: " + line).isEmpty();
        assertThat(r.lines()).hasSize(1);
        return r.lines().getFirst().points();
    }

    private static String error(String line) {
        LineProtocol.Result r = LineProtocol.parse(line, 1, NOW);
        assertThat(r.lines()).as("points of: " + line).isEmpty();
        assertThat(r.errors()).hasSize(1);
        return r.errors().getFirst().error();
    }

    @Test
    void measurementTagsFieldsAndANanosecondTimestampAreRead() {
        List<Point> points = one("weather,location=us-midwest,season=summer temperature=82,humidity=71.5 1465839830100400200");
        assertThat(points).hasSize(2);
        Point t = points.getFirst();
        assertThat(t.series().key().value()).isEqualTo("weather");
        assertThat(t.series().tags().asMap()).isEqualTo(Map.of("location", "us-midwest", "season", "summer"));
        assertThat(t.series().field()).isEqualTo("temperature");
        assertThat(t.value()).isEqualTo(FieldValue.of(82.0));
        assertThat(t.ts()).isEqualTo(1_465_839_830_100_400_200L);
        assertThat(points.get(1).value()).isEqualTo(FieldValue.of(71.5));
    }

    @Test
    void fieldTypesFollowTheFormat() {
        List<Point> points = one("m i=-42i,u=7u,f=-1.5e3,g=.5,h=3.,big=9223372036854775807i,"
                + "b1=t,b2=T,b3=true,b4=True,b5=TRUE,b6=f,b7=F,b8=false,b9=False,b10=FALSE,s=\"hello\"");
        assertThat(points).extracting(p -> p.series().field() + "=" + p.value().toJava()).containsExactly(
                "i=-42", "u=7", "f=-1500.0", "g=0.5", "h=3.0", "big=9223372036854775807",
                "b1=true", "b2=true", "b3=true", "b4=true", "b5=true", "b6=false", "b7=false", "b8=false", "b9=false",
                "b10=false", "s=hello");
        assertThat(points.get(0).value()).isInstanceOf(FieldValue.I64.class);
        assertThat(points.get(2).value()).isInstanceOf(FieldValue.F64.class);
        assertThat(points.getLast().value()).isInstanceOf(FieldValue.Text.class);
    }

    @Test
    void escapedCharactersAreUnescaped() {
        List<Point> points = one("my\\ meas\\,ure,tag\\ key\\=x=a\\ b\\,c\\=d field\\ key\\,1=\"say \\\"hi\\\", a=b c\\\\d\" 1");
        Point p = points.getFirst();
        assertThat(p.series().key().value()).as("a space becomes _ in the routing key").isEqualTo("my_meas,ure");
        assertThat(p.series().tags().asMap()).isEqualTo(Map.of("tag key=x", "a b,c=d"));
        assertThat(p.series().field()).isEqualTo("field key,1");
        assertThat(p.value()).isEqualTo(FieldValue.of("say \"hi\", a=b c\\d"));
        assertThat(p.ts()).isEqualTo(1);
    }

    @Test
    void aLineWithoutTimestampGetsNowAndPrecisionScalesTimestamps() {
        assertThat(one("m v=1").getFirst().ts()).isEqualTo(NOW);
        assertThat(LineProtocol.parse("m v=1 1767225600", 1_000_000_000L, NOW).lines().getFirst().points().getFirst().ts())
                .isEqualTo(1_767_225_600_000_000_000L);
        assertThat(LineProtocol.parse("m v=1 1767225600123", 1_000_000L, NOW).lines().getFirst().points().getFirst().ts())
                .isEqualTo(1_767_225_600_123_000_000L);
        assertThat(LineProtocol.precision("us")).hasValue(1_000L);
        assertThat(LineProtocol.precision("u")).hasValue(1_000L);
        assertThat(LineProtocol.precision("ms")).hasValue(1_000_000L);
        assertThat(LineProtocol.precision("fortnight")).isEmpty();
    }

    @Test
    void badLinesAreReportedWithTheirNumberAndTheOthersAreKept() {
        String body = """
                # a comment line
                cpu,host=a usage=1 1000

                cpu,host=b usage=abc 1000
                cpu,host=c usage=3 1000\r
                cpu,host=d
                cpu,host=e usage="unterminated 1000
                cpu,host=f usage=6i 12abc
                cpu,host=g usage=99999999999999999999i
                cpu,host=h usage=NaN
                cpu,host= usage=1
                cpu,host=i usage=9 1000""";
        LineProtocol.Result r = LineProtocol.parse(body, 1, NOW);
        assertThat(r.lines()).extracting(LineProtocol.Line::number).containsExactly(2, 5, 12);
        assertThat(r.errors()).extracting(LineProtocol.LineError::line).containsExactly(4, 6, 7, 8, 9, 10, 11);
        assertThat(r.errors().get(0).error()).contains("invalid value 'abc' for field 'usage'");
        assertThat(r.errors().get(1).error()).contains("no fields");
        assertThat(r.errors().get(2).error()).contains("no closing double quote");
        assertThat(r.errors().get(3).error()).contains("invalid timestamp '12abc'");
        assertThat(r.errors().get(4).error()).contains("does not fit in 64 bits");
        assertThat(r.errors().get(5).error()).contains("invalid value 'NaN'");
        assertThat(r.errors().get(6).error()).contains("needs a name and a value");
    }

    @Test
    void timestampsBeforeNineteenSeventyAndOverflowingOnesAreRefused() {
        assertThat(error("m v=1 -5")).contains("before 1970");
        assertThat(LineProtocol.parse("m v=1 9223372036854775", 1_000_000_000L, NOW).errors().getFirst().error())
                .contains("out of range");
    }

    @Test
    void measurementsThatAreNotRoutingKeysAreMadeInto() {
        assertThat(one("a..b*c#d v=1").getFirst().series().key().value()).isEqualTo("a._.b_c_d");
        assertThat(one(".lead v=1").getFirst().series().key().value()).isEqualTo("_.lead");
        assertThat(one("sensors.room1.temp v=1").getFirst().series().key().value()).isEqualTo("sensors.room1.temp");
    }
}
