package io.junction.media.workflow;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * mmids' configuration format, as its reactors answer it:
 * <pre>
 * workflow NAME {
 *     rtmp_receive rtmp_app=live stream_key=*
 *     ffmpeg_hls duration=2 count=5
 * }
 * </pre>
 * Comments start with {@code #}; values may be quoted. {@code settings { ... }} blocks are skipped. mmids' parameter
 * names are mapped to Junction's ({@code rtmp_app} → {@code app}, {@code duration} → {@code segment_seconds},
 * {@code target} → {@code url}, ...); parameters that only make sense inside mmids ({@code path} of an HLS step,
 * a receive step's {@code reactor}, IP lists) are left out, because Junction decides those itself.
 */
final class MmidsFormat {

    /** mmids name → Junction name, per step type; a null Junction name means "accepted and left out". */
    private static final Map<String, Map<String, String>> NAMES = Map.of(
            "rtmp_receive", Map.of("rtmp_app", "app", "stream_key", "stream_key"),
            "rtmp_watch", Map.of("rtmp_app", "app", "stream_key", "stream_key"),
            "ffmpeg_transcode", Map.of("vcodec", "video_codec", "acodec", "audio_codec", "h264_preset", "h264_preset",
                    "size", "size", "kbps", "kbps"),
            "ffmpeg_hls", Map.of("duration", "segment_seconds", "count", "segment_count"),
            "ffmpeg_push", Map.of("target", "url"),
            "ffmpeg_pull", Map.of("location", "url", "stream_name", "stream_name"),
            "forward_to_workflow", Map.of("target_workflow", "workflow"));
    private static final Set<String> LEFT_OUT = Set.of("reactor", "allow_ips", "deny_ips", "rtmps", "path", "stream_name_hls");

    private MmidsFormat() {
    }

    static List<WorkflowDefinition> parse(String text) {
        List<WorkflowDefinition> out = new ArrayList<>();
        String[] lines = text.split("\\R");
        int i = 0;
        while (i < lines.length) {
            String line = strip(lines[i]);
            i++;
            if (line.isEmpty()) {
                continue;
            }
            List<String> words = words(line, i);
            String head = words.getFirst().toLowerCase(java.util.Locale.ROOT);
            if (head.equals("settings") && words.getLast().equals("{")) {
                while (i < lines.length && !strip(lines[i]).equals("}")) {
                    i++;
                }
                i++;
                continue;
            }
            if (!head.equals("workflow") || words.size() != 3 || !words.get(2).equals("{")) {
                throw new DefinitionException("line " + i + ": expected 'workflow NAME {' (mmids format), got '" + line + "'");
            }
            String name = words.get(1);
            Definitions.checkName(name);
            List<ObjectNode> steps = new ArrayList<>();
            boolean closed = false;
            while (i < lines.length) {
                String l = strip(lines[i]);
                i++;
                if (l.isEmpty()) {
                    continue;
                }
                if (l.equals("}")) {
                    closed = true;
                    break;
                }
                steps.add(step(name, steps.size() + 1, words(l, i), i));
            }
            if (!closed) {
                throw new DefinitionException("workflow '" + name + "': the block is not closed with '}'");
            }
            out.add(Definitions.build(name, steps));
        }
        if (out.isEmpty()) {
            throw new DefinitionException("the answer has no 'workflow NAME { ... }' block");
        }
        return out;
    }

    private static ObjectNode step(String workflow, int index, List<String> words, int line) {
        String type = words.getFirst();
        ObjectNode node = Json.object().put("type", type);
        Map<String, String> names = NAMES.getOrDefault(type, Map.of());
        for (String w : words.subList(1, words.size())) {
            int eq = w.indexOf('=');
            String key = eq < 0 ? w : w.substring(0, eq);
            String value = eq < 0 ? "true" : w.substring(eq + 1);
            if (LEFT_OUT.contains(key)) {
                continue;
            }
            String junction = names.get(key);
            if (junction == null) {
                throw new DefinitionException("workflow '" + workflow + "' step " + index + " (" + type + ") at line " + line
                        + ": " + key + ": unknown parameter" + (names.isEmpty() ? "" : "; this step takes " + String.join(", ", names.keySet().stream().sorted().toList())));
            }
            node.put(junction, value);
        }
        return node;
    }

    private static String strip(String line) {
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == '#' && !quoted) {
                return line.substring(0, i).strip();
            }
        }
        return line.strip();
    }

    /** Splits on blanks, keeping {@code key="a b"} together and without its quotes. */
    private static List<String> words(String line, int lineNo) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if ((c == ' ' || c == '\t') && !quoted) {
                if (!cur.isEmpty()) {
                    out.add(cur.toString());
                    cur.setLength(0);
                }
            } else {
                cur.append(c);
            }
        }
        if (quoted) {
            throw new DefinitionException("line " + lineNo + ": a quote is not closed");
        }
        if (!cur.isEmpty()) {
            out.add(cur.toString());
        }
        return out;
    }
}
