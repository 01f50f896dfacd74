package io.junction.media.workflow;

import io.junction.media.rtmp.Amf0;
import io.junction.media.rtmp.MediaPacket;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The workflows a stream passed through, carried in its metadata, and what a workflow that finds itself there does. */
class LoopGuardTest {

    private static MediaPacket metadata(Map<String, Object> fields) {
        return new MediaPacket(MediaPacket.Kind.METADATA, 0, new Amf0.Writer().value("onMetaData").ecmaArray(fields).toBytes());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> fields(MediaPacket p) throws Amf0.FormatException {
        List<Object> values = Amf0.decodeAll(p.data());
        assertThat(values.getFirst()).isEqualTo("onMetaData");
        return (Map<String, Object>) values.get(1);
    }

    @Test
    void eachWorkflowAStreamEntersIsAddedToItsMetadataAndTheOtherFieldsStay() throws Exception {
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("width", 320.0);
        in.put("encoder", "Lavf59");
        LoopGuard.Entry first = LoopGuard.enter(metadata(in), "s1", "a", "cam");
        MediaPacket tagged = ((LoopGuard.Entry.Pass) first).packet();
        assertThat(fields(tagged)).containsEntry("width", 320.0).containsEntry("encoder", "Lavf59")
                .containsEntry(LoopGuard.FIELD, "s1/a");

        MediaPacket twice = ((LoopGuard.Entry.Pass) LoopGuard.enter(tagged, "s1", "b", "cam")).packet();
        assertThat(fields(twice)).containsEntry(LoopGuard.FIELD, "s1/a,s1/b");
        // Another server's workflow of the same name is another workflow.
        MediaPacket elsewhere = ((LoopGuard.Entry.Pass) LoopGuard.enter(twice, "s2", "a", "cam")).packet();
        assertThat(fields(elsewhere)).containsEntry(LoopGuard.FIELD, "s1/a,s1/b,s2/a");
    }

    @Test
    void aStreamThatComesBackToAWorkflowItPassedThroughIsALoopNamingTheWay() {
        MediaPacket back = metadata(Map.of("width", 320.0, LoopGuard.FIELD, "s1/a,s2/x,s1/b"));
        assertThat(LoopGuard.enter(back, "s1", "a", "cam_x")).isEqualTo(new LoopGuard.Entry.Loop(
                "stream 'cam_x' came back to workflow 'a' after passing through a, s2/x, b: a push, pull or forward leads"
                        + " back here, so the workflow stopped rather than hand the stream round forever"));
        assertThat(LoopGuard.enter(back, "s1", "c", "cam_x")).isInstanceOf(LoopGuard.Entry.Pass.class);
    }

    @Test
    void aChainOfTooManyWorkflowsIsTakenForALoop() {
        StringBuilder via = new StringBuilder();
        for (int i = 0; i < LoopGuard.MAX_HOPS; i++) {
            via.append(i == 0 ? "" : ",").append("s").append(i).append("/w");
        }
        assertThat(LoopGuard.enter(metadata(Map.of(LoopGuard.FIELD, via.toString())), "s0", "w", "cam"))
                .isInstanceOf(LoopGuard.Entry.Loop.class);
    }

    @Test
    void metadataThatIsNotOnMetaDataGoesOnUnchanged() {
        MediaPacket other = new MediaPacket(MediaPacket.Kind.METADATA, 0, Amf0.encode("onCuePoint", Map.of("name", "x")));
        assertThat(LoopGuard.enter(other, "s1", "a", "cam")).isEqualTo(new LoopGuard.Entry.Pass(other));
        MediaPacket broken = new MediaPacket(MediaPacket.Kind.METADATA, 0, new byte[]{2, 0, 9, 'o'});
        assertThat(LoopGuard.enter(broken, "s1", "a", "cam")).isEqualTo(new LoopGuard.Entry.Pass(broken));
    }
}
