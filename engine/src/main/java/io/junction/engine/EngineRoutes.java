package io.junction.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.state.VersionConflictException;
import io.junction.core.stream.MessageStream;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * The engine's HTTP routes: {@code PUT/GET/DELETE /api/scripts/{name}}, {@code GET /api/scripts},
 * {@code POST /api/scripts/{name}/replay} and {@code POST /api/engine/pass-through/replay}. Bad input gets a 400
 * that says what is wrong; a script that does not compile gets {@code {"error": "invalid script", "detail": ...,
 * "line": N}} with the language's own message.
 */
public final class EngineRoutes {

    private static final Set<String> SCRIPT_FIELDS = Set.of("language", "source", "bind");
    private static final Set<String> REPLAY_FIELDS = Set.of("from", "to");

    private final Engine engine;
    private final MessageStream raw;

    public EngineRoutes(Engine engine, MessageStream raw) {
        this.engine = engine;
        this.raw = raw;
    }

    public void register(RouteTable routes) {
        routes.add(Method.GET, "/api/scripts", r -> ApiResponse.json(Map.of("scripts", engine.scripts())));
        routes.add(Method.PUT, "/api/scripts/{name}", this::put);
        routes.add(Method.GET, "/api/scripts/{name}", r -> ApiResponse.json(engine.script(name(r))
                .orElseThrow(() -> unknown(r.pathParam("name")))));
        routes.add(Method.DELETE, "/api/scripts/{name}", r -> {
            String name = name(r);
            try {
                if (!engine.delete(name)) {
                    throw unknown(name);
                }
            } catch (VersionConflictException e) {
                throw changedMeanwhile(name);
            }
            return ApiResponse.status(204);
        });
        routes.add(Method.POST, "/api/scripts/{name}/replay", r -> {
            String name = name(r);
            long[] range = range(r);
            try {
                return ApiResponse.json(202, engine.replay(name, range[0], range[1]));
            } catch (NoSuchElementException e) {
                throw unknown(name);
            } catch (IllegalStateException e) {
                throw new ApiException(409, "conflict", e.getMessage());
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
        });
        routes.add(Method.POST, "/api/engine/pass-through/replay", r -> {
            long[] range = range(r);
            try {
                return ApiResponse.json(202, engine.replayPassThrough(range[0], range[1]));
            } catch (IllegalStateException e) {
                throw new ApiException(409, "conflict", e.getMessage());
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
        });
        routes.add(Method.GET, "/api/engine/pass-through/replay", r -> ApiResponse.json(engine.replayInfo(Engine.PASS_THROUGH)
                .orElseThrow(() -> ApiException.notFound("no pass-through replay has run since the server started"))));
    }

    private static String name(ApiRequest r) {
        String name = r.pathParam("name");
        String problem = ScriptSource.nameProblem(name);
        if (problem != null) {
            throw ApiException.badRequest(problem);
        }
        return name;
    }

    private static ApiException unknown(String name) {
        return ApiException.notFound("no script named '" + name + "'");
    }

    private ApiResponse put(ApiRequest r) {
        String name = name(r);
        JsonNode body = r.bodyJson();
        if (!body.isObject()) {
            throw ApiException.badRequest("send a JSON object {\"language\": \"javascript\"|\"python\"|\"wasm\", \"source\": \"...\", \"bind\": [\"pattern\", ...]}");
        }
        checkFields(body, SCRIPT_FIELDS);
        JsonNode lang = body.get("language");
        if (lang == null || !lang.isTextual()) {
            throw ApiException.badRequest("\"language\" is required: \"javascript\", \"python\" or \"wasm\"");
        }
        Language language = Language.parse(lang.asText()).orElseThrow(() -> ApiException.badRequest(
                "unknown language '" + lang.asText() + "': use \"javascript\", \"python\" or \"wasm\""));
        JsonNode src = body.get("source");
        if (src == null || !src.isTextual()) {
            throw ApiException.badRequest("\"source\" is required: the script's text"
                    + (language == Language.WASM ? " (for wasm: the module's bytes in base64)" : ""));
        }
        byte[] code;
        if (language == Language.WASM) {
            try {
                code = Base64.getMimeDecoder().decode(src.asText());
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("\"source\" is not base64: " + e.getMessage());
            }
        } else {
            code = src.asText().getBytes(StandardCharsets.UTF_8);
        }
        JsonNode bindNode = body.get("bind");
        if (bindNode == null || !bindNode.isArray()) {
            throw ApiException.badRequest("\"bind\" is required: a list of routing-key patterns such as [\"bedroom.*.temperature\", \"#.status\"]");
        }
        List<RoutingPattern> bind = new ArrayList<>();
        for (JsonNode b : bindNode) {
            if (!b.isTextual()) {
                throw ApiException.badRequest("\"bind\" must hold strings; got " + b);
            }
            try {
                bind.add(RoutingPattern.of(b.asText()));
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
        }
        ScriptSource source;
        try {
            source = new ScriptSource(name, language, code, bind, "api", r.caller().orElse(ScriptSource.NO_OWNER));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        boolean existed = engine.script(name).isPresent();
        try {
            ScriptInfo info = engine.store(source);
            return ApiResponse.json(existed ? 200 : 201, info);
        } catch (ScriptRejectedException e) {
            ObjectNode err = Json.object().put("error", "invalid script").put("detail", e.getMessage());
            if (e.line() > 0) {
                err.put("line", e.line());
            }
            return ApiResponse.json(400, err);
        } catch (VersionConflictException e) {
            throw changedMeanwhile(name);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        } catch (IllegalStateException e) {
            throw new ApiException(503, "service unavailable", e.getMessage());
        }
    }

    /** Another node changed the script between our read and our write: nothing was overwritten. */
    private static ApiException changedMeanwhile(String name) {
        return new ApiException(409, "conflict", "script '" + name + "' was changed by someone else meanwhile; read it and try again");
    }

    /** {@code {"from": OFFSET|TIME, "to": OFFSET}}: the raw offsets to replay; {@code to} defaults to the end. */
    private long[] range(ApiRequest r) {
        JsonNode body = r.bodyJson();
        if (!body.isObject()) {
            throw ApiException.badRequest("send a JSON object {\"from\": OFFSET or ISO-8601 time, \"to\": OFFSET (optional)}");
        }
        checkFields(body, REPLAY_FIELDS);
        JsonNode from = body.get("from");
        if (from == null) {
            throw ApiException.badRequest("\"from\" is required: a raw-stream offset (0 for the start) or an ISO-8601 time such as \"2026-11-23T10:00:00Z\"");
        }
        long start;
        if (from.isIntegralNumber() && from.asLong() >= 0) {
            start = from.asLong();
        } else if (from.isTextual()) {
            try {
                start = raw.offsetAt(Instant.parse(from.asText()).toEpochMilli());
            } catch (DateTimeParseException e) {
                throw ApiException.badRequest("\"from\": '" + from.asText() + "' is not an ISO-8601 time such as \"2026-11-23T10:00:00Z\"");
            }
        } else {
            throw ApiException.badRequest("\"from\" must be a raw-stream offset (a whole number from 0) or an ISO-8601 time; got " + from);
        }
        long end = raw.endOffset();
        JsonNode to = body.get("to");
        if (to != null && !to.isNull()) {
            if (!to.isIntegralNumber() || to.asLong() < 0) {
                throw ApiException.badRequest("\"to\" must be a raw-stream offset (a whole number from 0); got " + to);
            }
            end = Math.min(end, to.asLong());
        }
        if (start > end) {
            throw ApiException.badRequest("\"from\" (" + start + ") is after \"to\" (" + end + ")");
        }
        return new long[]{start, end};
    }

    private static void checkFields(JsonNode body, Set<String> allowed) {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw ApiException.badRequest("unknown field '" + f + "'; the fields are " + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
    }
}
