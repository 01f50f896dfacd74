package io.junction.media.workflow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.config.ConfigException;
import io.junction.media.MediaSettings;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns workflow definitions from the config file, the API (JSON) and reactors (JSON or mmids' configuration format)
 * into {@link WorkflowDefinition}s. Every step's parameters are checked here, once, with an error that names the
 * workflow, the step and the parameter.
 */
public final class Definitions {

    static final Pattern WORKFLOW_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern KEY = Pattern.compile("\\*|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern APP = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}){0,3}");
    private static final Pattern SIZE = Pattern.compile("([1-9][0-9]{0,4})x([1-9][0-9]{0,4})");
    private static final Set<String> PRESETS = Set.of("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
            "slow", "slower", "veryslow");

    private Definitions() {
    }

    /** A workflow from the config file; errors are {@link ConfigException}s with the file and line. */
    public static WorkflowDefinition fromConfig(MediaSettings.WorkflowSpec spec) {
        List<ObjectNode> steps = new ArrayList<>();
        for (MediaSettings.StepSpec s : spec.steps()) {
            ObjectNode n = Json.MAPPER.valueToTree(s.params());
            ObjectNode step = Json.object().put("type", s.type());
            step.setAll(n);
            steps.add(step);
        }
        try {
            return build(spec.name(), steps);
        } catch (DefinitionException e) {
            int at = stepIndex(e);
            String where = at >= 0 && at < spec.steps().size() ? spec.steps().get(at).where() : spec.where();
            throw new ConfigException(where + ": workflows: " + e.getMessage());
        }
    }

    /**
     * The config file's workflows, each checked as {@link #fromConfig(MediaSettings.WorkflowSpec)} does, and together:
     * one whose forwards close a loop with those before it is a {@link ConfigException} naming the loop.
     */
    public static List<WorkflowDefinition> fromConfig(List<MediaSettings.WorkflowSpec> specs) {
        List<WorkflowDefinition> out = new ArrayList<>();
        Map<String, WorkflowDefinition> defined = new HashMap<>();
        for (MediaSettings.WorkflowSpec spec : specs) {
            WorkflowDefinition d = fromConfig(spec);
            Optional<String> loop = ForwardLoops.closedBy(d, n -> Optional.ofNullable(defined.get(n)));
            if (loop.isPresent()) {
                throw new ConfigException(spec.where() + ": workflows: " + loop.get());
            }
            defined.put(d.name(), d);
            out.add(d);
        }
        return out;
    }

    private static int stepIndex(DefinitionException e) {
        var m = Pattern.compile(" step (\\d+) ").matcher(e.getMessage());
        return m.find() ? Integer.parseInt(m.group(1)) - 1 : -1;
    }

    /**
     * A workflow from the API: {@code {"steps": [{"type": "rtmp_receive", "app": "live"}, ...]}}; a {@code name} in
     * the body, if any, must be {@code name}.
     */
    public static WorkflowDefinition fromJson(String name, JsonNode body) {
        checkName(name);
        if (!(body instanceof ObjectNode o)) {
            throw new DefinitionException("workflow '" + name + "': the definition must be a JSON object such as {\"steps\": [{\"type\": \"rtmp_receive\", \"app\": \"live\"}]}");
        }
        Iterator<String> fields = o.fieldNames();
        while (fields.hasNext()) {
            String f = fields.next();
            if (!f.equals("name") && !f.equals("steps")) {
                throw new DefinitionException("workflow '" + name + "': unknown field '" + f + "'; a definition has 'name' and 'steps'");
            }
        }
        JsonNode n = o.get("name");
        if (n != null && !(n.isTextual() && n.asText().equals(name))) {
            throw new DefinitionException("workflow '" + name + "': the body's name " + n + " differs from the name in the path");
        }
        JsonNode steps = o.get("steps");
        if (steps == null || !steps.isArray()) {
            throw new DefinitionException("workflow '" + name + "': 'steps' is required: a list of steps such as [{\"type\": \"rtmp_receive\", \"app\": \"live\"}]");
        }
        List<ObjectNode> list = new ArrayList<>();
        int i = 0;
        for (JsonNode s : steps) {
            i++;
            if (!(s instanceof ObjectNode so)) {
                throw new DefinitionException("workflow '" + name + "' step " + i + ": expected an object with a 'type', got " + s);
            }
            list.add(so);
        }
        return build(name, list);
    }

    /** A definition as the API takes it ({@code {"name", "steps": [{"type", ...}]}}): {@link #fromJson} reads it back. */
    static ObjectNode toJson(WorkflowDefinition d) {
        ObjectNode o = Json.object().put("name", d.name());
        ArrayNode steps = o.putArray("steps");
        for (StepDefinition s : d.steps()) {
            ObjectNode step = steps.addObject().put("type", s.type());
            step.setAll((ObjectNode) Json.MAPPER.valueToTree(s.params()));
        }
        return o;
    }

    /**
     * The workflows in a reactor's answer: Junction's JSON ({@code {"workflows": [{"name", "steps"}]}}, a list of
     * those, or one) or mmids' configuration format ({@code workflow NAME { step_type key=value ... }}).
     */
    public static List<WorkflowDefinition> fromReactorAnswer(String text) {
        String t = text.strip();
        if (t.isEmpty()) {
            throw new DefinitionException("the answer is empty: expected workflow definitions");
        }
        if (t.startsWith("{") || t.startsWith("[")) {
            JsonNode root;
            try {
                root = Json.parse(t);
            } catch (IOException e) {
                throw new DefinitionException("the answer looks like JSON but is not valid: " + e.getMessage());
            }
            JsonNode list = root.isArray() ? root : root.has("workflows") ? root.get("workflows") : Json.MAPPER.createArrayNode().add(root);
            if (!list.isArray()) {
                throw new DefinitionException("'workflows' must be a list of {\"name\", \"steps\"} objects");
            }
            List<WorkflowDefinition> out = new ArrayList<>();
            for (JsonNode w : list) {
                JsonNode name = w.get("name");
                if (name == null || !name.isTextual()) {
                    throw new DefinitionException("each workflow needs a 'name', got " + w);
                }
                out.add(fromJson(name.asText(), w));
            }
            return unique(out);
        }
        return unique(MmidsFormat.parse(t));
    }

    private static List<WorkflowDefinition> unique(List<WorkflowDefinition> list) {
        Set<String> seen = new HashSet<>();
        for (WorkflowDefinition w : list) {
            if (!seen.add(w.name())) {
                throw new DefinitionException("workflow '" + w.name() + "' is defined twice");
            }
        }
        return list;
    }

    static void checkName(String name) {
        if (!WORKFLOW_NAME.matcher(name).matches()) {
            throw new DefinitionException("'" + name + "' is not a valid workflow name: use 1 to 64 letters, digits, '_' or '-'");
        }
    }

    static WorkflowDefinition build(String name, List<ObjectNode> steps) {
        checkName(name);
        if (steps.isEmpty()) {
            throw new DefinitionException("workflow '" + name + "': a workflow needs at least one step");
        }
        if (steps.size() > 32) {
            throw new DefinitionException("workflow '" + name + "': at most 32 steps, got " + steps.size());
        }
        List<StepDefinition> out = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            out.add(step(name, i + 1, steps.get(i)));
        }
        return new WorkflowDefinition(name, out);
    }

    private static StepDefinition step(String workflow, int index, ObjectNode node) {
        JsonNode t = node.get("type");
        String prefix = "workflow '" + workflow + "' step " + index;
        if (t == null || !t.isTextual()) {
            throw new DefinitionException(prefix + ": 'type' is required: one of rtmp_receive, rtmp_watch, ffmpeg_transcode, "
                    + "ffmpeg_hls, ffmpeg_push, ffmpeg_pull, forward_to_workflow");
        }
        Params p = new Params(prefix + " (" + t.asText() + ")", node);
        StepDefinition s = switch (t.asText()) {
            case "rtmp_receive" -> new StepDefinition.RtmpReceive(p.app(), p.key());
            case "rtmp_watch" -> new StepDefinition.RtmpWatch(p.app(), p.key());
            case "ffmpeg_transcode" -> {
                String v = p.choice("video_codec", "h264", Set.of("h264", "copy"));
                String a = p.choice("audio_codec", "aac", Set.of("aac", "copy"));
                String preset = p.choice("h264_preset", "veryfast", PRESETS);
                String size = p.string("size", "");
                if (!size.isEmpty() && !SIZE.matcher(size).matches()) {
                    throw p.error("size", "expected WIDTHxHEIGHT such as \"640x360\", got \"" + size + "\"");
                }
                if (v.equals("copy") && !size.isEmpty()) {
                    throw p.error("size", "cannot change the size when video_codec is \"copy\"");
                }
                int kbps = p.integer("kbps", 0, 0, 100_000);
                yield new StepDefinition.FfmpegTranscode(v, a, preset, size, kbps);
            }
            case "ffmpeg_hls" -> new StepDefinition.FfmpegHls(p.integer("segment_seconds", 2, 1, 60), p.integer("segment_count", 5, 1, 1000));
            case "ffmpeg_push" -> new StepDefinition.FfmpegPush(p.url("url", true));
            case "ffmpeg_pull" -> {
                String url = p.url("url", false);
                String stream = p.string("stream_name", null);
                if (stream == null || !KEY.matcher(stream).matches() || stream.equals("*")) {
                    throw p.error("stream_name", "is required: the name the pulled stream has in the workflow (letters, digits, '_', '.', '-')");
                }
                yield new StepDefinition.FfmpegPull(url, stream);
            }
            case "forward_to_workflow" -> {
                String target = p.string("workflow", null);
                if (target == null || !WORKFLOW_NAME.matcher(target).matches()) {
                    throw p.error("workflow", "is required: the name of the workflow to hand streams to");
                }
                if (target.equals(workflow)) {
                    throw p.error("workflow", "a workflow cannot forward to itself");
                }
                yield new StepDefinition.ForwardToWorkflow(target);
            }
            default -> throw new DefinitionException(prefix + ": unknown step type '" + t.asText() + "'; the types are rtmp_receive, "
                    + "rtmp_watch, ffmpeg_transcode, ffmpeg_hls, ffmpeg_push, ffmpeg_pull, forward_to_workflow");
        };
        p.finish();
        return s;
    }

    /** One step's parameters, read once each; numbers may also come as text (mmids' format has only text). */
    private static final class Params {
        final String prefix;
        final ObjectNode node;
        final Set<String> read = new HashSet<>(Set.of("type"));

        Params(String prefix, ObjectNode node) {
            this.prefix = prefix;
            this.node = node;
        }

        DefinitionException error(String key, String sentence) {
            return new DefinitionException(prefix + ": " + key + ": " + sentence);
        }

        String string(String key, String fallback) {
            read.add(key);
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw error(key, "expected a string, got " + v);
            }
            return v.asText();
        }

        int integer(String key, int fallback, int min, int max) {
            read.add(key);
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            long n;
            if (v.isIntegralNumber()) {
                n = v.asLong();
            } else if (v.isTextual() && v.asText().matches("-?[0-9]{1,12}")) {
                n = Long.parseLong(v.asText());
            } else {
                throw error(key, "expected a whole number from " + min + " to " + max + ", got " + v);
            }
            if (n < min || n > max) {
                throw error(key, "expected a whole number from " + min + " to " + max + ", got " + n);
            }
            return (int) n;
        }

        String choice(String key, String fallback, Set<String> allowed) {
            String v = string(key, fallback).toLowerCase(Locale.ROOT);
            if (!allowed.contains(v)) {
                throw error(key, "expected one of " + String.join(", ", allowed.stream().sorted().toList()) + ", got \"" + v + "\"");
            }
            return v;
        }

        String app() {
            String app = string("app", null);
            if (app == null) {
                throw error("app", "is required: the RTMP application name, such as \"live\"");
            }
            if (!APP.matcher(app).matches()) {
                throw error("app", "expected letters, digits, '_', '.', '-' (and '/' between parts), got \"" + app + "\"");
            }
            return app;
        }

        String key() {
            String key = string("stream_key", "*");
            if (!KEY.matcher(key).matches()) {
                throw error("stream_key", "expected one stream key (letters, digits, '_', '.', '-') or \"*\" for any, got \"" + key + "\"");
            }
            return key;
        }

        String url(String key, boolean rtmpOnly) {
            String url = string(key, null);
            if (url == null) {
                throw error(key, rtmpOnly ? "is required: the rtmp:// or rtmps:// URL to push to ({stream} becomes the stream name)"
                        : "is required: the URL to pull from (rtmp://, rtmps://, http://, https://, srt:// or udp://)");
            }
            URI uri;
            try {
                uri = URI.create(url.replace("{stream}", "stream"));
            } catch (IllegalArgumentException e) {
                throw error(key, "is not a valid URL: " + e.getMessage());
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            Set<String> allowed = rtmpOnly ? Set.of("rtmp", "rtmps") : Set.of("rtmp", "rtmps", "http", "https", "srt", "udp");
            if (!allowed.contains(scheme) || uri.getHost() == null) {
                throw error(key, "expected a " + String.join(" or ", allowed.stream().sorted().map(s -> s + "://").toList())
                        + " URL with a host, got \"" + url + "\"");
            }
            return url;
        }

        void finish() {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                String k = field.getKey();
                if (!read.contains(k)) {
                    List<String> known = new ArrayList<>(read);
                    known.remove("type");
                    known.sort(null);
                    throw error(k, "unknown parameter; this step takes " + (known.isEmpty() ? "none" : String.join(", ", known)));
                }
            }
        }
    }
}
