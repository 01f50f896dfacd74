package io.junction.devices.live;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.actor.ActorException;
import io.junction.core.auth.Principal;
import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;
import io.junction.core.http.SocketEndpoint;
import io.junction.core.http.SocketSession;
import io.junction.devices.driver.ExecException;
import io.junction.devices.model.DeviceModel;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real-time WebSocket of the devices, in PlaceOS's protocol so its front-end clients work unchanged. Requests:
 * {@code {"id", "cmd": "bind"|"unbind"|"exec"|"debug"|"ignore", "sys", "mod", "index", "name", "args"?}}; answers:
 * {@code {"id", "type": "success"|"error"|"notify"|"debug", "value"?, "code"?, "msg"?, "meta"?}}. A notify's value is
 * the status value as JSON text, as those clients expect. The text frame {@code ping} is answered {@code pong}. Ids
 * are checked here and go to the model as {@link SystemId} and {@link ModuleRef}.
 */
public final class RealtimeSocket implements SocketEndpoint {

    private static final Logger log = LoggerFactory.getLogger(RealtimeSocket.class);
    /** The most bindings and debug streams one socket may hold. */
    static final int MAX_BINDINGS = 10_000;
    private static final Set<String> COMMANDS = Set.of("bind", "unbind", "exec", "debug", "ignore");

    private final DeviceModel model;
    /**
     * The last status value written as a notify's JSON-text value: one change reaches every socket bound to it with
     * the same value object, so it is written once, not once per socket.
     */
    private volatile Written lastWritten = new Written(null, "");

    private record Written(String value, String quoted) {
    }

    public RealtimeSocket(DeviceModel model) {
        this.model = model;
    }

    @Override
    public SocketListener open(SocketSession session) {
        return new Client(session);
    }

    /**
     * One socket: its bindings and debug streams, all ended when it closes. Frames of one socket never overlap; its
     * close may race with one, so a binding made while closing is ended at once.
     */
    private final class Client implements SocketListener {
        private final SocketSession session;
        private final Principal caller;
        /** (sys|mod|index|name) → binding. */
        private final Map<String, AutoCloseable> bindings = new ConcurrentHashMap<>();
        private final Map<ModuleId, AutoCloseable> debugs = new ConcurrentHashMap<>();
        private volatile boolean closed;

        Client(SocketSession session) {
            this.session = session;
            this.caller = session.caller().orElse(Principal.SYSTEM);
        }

        @Override
        public void onText(String text) {
            if (text.equals("ping")) {
                session.send("pong");
                return;
            }
            JsonNode req;
            try {
                req = Json.parse(text);
            } catch (Exception e) {
                error(NullNode.getInstance(), ExecException.Code.PARSE_ERROR, "the frame is not JSON: send {\"id\", \"cmd\", \"sys\", \"mod\", \"index\", \"name\"}");
                return;
            }
            if (req == null || !req.isObject()) {
                error(NullNode.getInstance(), ExecException.Code.PARSE_ERROR, "a request must be a JSON object");
                return;
            }
            JsonNode id = req.path("id").isMissingNode() ? NullNode.getInstance() : req.get("id");
            String cmd = req.path("cmd").asText("");
            if (!COMMANDS.contains(cmd)) {
                error(id, ExecException.Code.UNKNOWN_COMMAND, "unknown cmd '" + cmd + "'; use bind, unbind, exec, debug or ignore");
                return;
            }
            String sys = req.path("sys").asText("");
            String mod = req.path("mod").asText("");
            JsonNode indexNode = req.path("index");
            int index = indexNode.isMissingNode() ? 1 : indexNode.asInt(0);
            String name = req.path("name").asText("");
            if (sys.isEmpty() || mod.isEmpty() || index < 1 || (name.isEmpty() && !cmd.equals("debug") && !cmd.equals("ignore"))) {
                error(id, ExecException.Code.BAD_REQUEST, cmd + " needs sys, mod, index (1 or more) and name");
                return;
            }
            ObjectNode meta = Json.object().put("sys", sys).put("mod", mod).put("index", index).put("name", name);
            try {
                // Checked once here; the model gets typed ids. A text that cannot be a system id names no system.
                if (!SystemId.isValid(sys)) {
                    throw new ExecException(ExecException.Code.SYSTEM_NOT_FOUND, "there is no system '" + sys + "'");
                }
                SystemId system = SystemId.of(sys);
                ModuleRef ref = new ModuleRef(mod, index);
                switch (cmd) {
                    case "bind" -> bind(id, system, ref, name, meta);
                    case "unbind" -> unbind(id, sys, mod, index, name);
                    case "exec" -> exec(id, system, ref, name, req.get("args"));
                    case "debug" -> debug(id, system, ref, meta);
                    case "ignore" -> ignore(id, system, ref);
                    default -> throw new IllegalStateException(cmd);
                }
            } catch (ExecException e) {
                error(id, e.code(), e.getMessage());
            } catch (RuntimeException e) {
                log.warn("realtime {} failed: {}", cmd, e.toString(), e);
                error(id, ExecException.Code.UNEXPECTED_FAILURE, cmd + " failed: " + e.getMessage());
            }
        }

        private void bind(JsonNode id, SystemId sys, ModuleRef ref, String name, ObjectNode meta) {
            String key = sys + "|" + ref.name() + "|" + ref.index() + "|" + name;
            if (closed) {
                return;
            }
            if (bindings.containsKey(key)) {
                success(id, NullNode.getInstance(), meta);
                return;
            }
            if (bindings.size() >= MAX_BINDINGS) {
                throw new ExecException(ExecException.Code.BAD_REQUEST, "a socket may hold at most " + MAX_BINDINGS + " bindings");
            }
            String metaJson = meta.toString();
            // The success goes out before the first notify: the binding's first value is sent while it is made.
            success(id, NullNode.getInstance(), meta);
            AutoCloseable b = await(model.bind(sys, ref, name, value -> notify(metaJson, value)));
            bindings.put(key, b);
            if (closed && bindings.remove(key, b)) {
                close(b);
            }
        }

        private void unbind(JsonNode id, String sys, String mod, int index, String name) {
            close(bindings.remove(sys + "|" + mod + "|" + index + "|" + name));
            success(id, NullNode.getInstance(), null);
        }

        private void exec(JsonNode id, SystemId sys, ModuleRef ref, String name, JsonNode args) {
            model.exec(caller, sys, ref, name, args, true).whenComplete((value, e) -> {
                if (e == null) {
                    success(id, value, null);
                    return;
                }
                Throwable c = e;
                while (c instanceof CompletionException && c.getCause() != null) {
                    c = c.getCause();
                }
                if (c instanceof ExecException x) {
                    error(id, x.code(), x.getMessage());
                } else {
                    error(id, ExecException.Code.UNEXPECTED_FAILURE, String.valueOf(c.getMessage()));
                }
            });
        }

        private void debug(JsonNode id, SystemId sys, ModuleRef ref, ObjectNode meta) {
            ModuleId moduleId = model.require(sys, ref);
            String klass = model.runningType(moduleId).map(t -> t.metadata().id()).orElse("");
            if (closed || debugs.containsKey(moduleId)) {
                success(id, NullNode.getInstance(), null);
                return;
            }
            String mod = moduleId.value();
            AutoCloseable d = model.debug(moduleId, line -> {
                ObjectNode f = Json.object().put("type", "debug").put("mod", mod).put("klass", klass)
                        .put("level", "debug").put("msg", line);
                f.set("meta", Json.object().put("sys", sys.value()).put("mod", ref.name()).put("index", ref.index()));
                session.send(f.toString());
            });
            debugs.put(moduleId, d);
            if (closed && debugs.remove(moduleId, d)) {
                close(d);
            }
            success(id, NullNode.getInstance(), null);
        }

        private void ignore(JsonNode id, SystemId sys, ModuleRef ref) {
            close(debugs.remove(model.require(sys, ref)));
            success(id, NullNode.getInstance(), null);
        }

        private void notify(String metaJson, String value) {
            Written w = lastWritten;
            if (w.value() != value) {
                w = new Written(value, Json.write(value));
                lastWritten = w;
            }
            session.send("{\"type\":\"notify\",\"value\":" + w.quoted() + ",\"meta\":" + metaJson + "}");
        }

        private void success(JsonNode id, JsonNode value, ObjectNode meta) {
            ObjectNode f = Json.object();
            f.set("id", id);
            f.put("type", "success");
            f.set("value", value);
            if (meta != null) {
                f.set("meta", meta);
            }
            session.send(f.toString());
        }

        private void error(JsonNode id, ExecException.Code code, String msg) {
            ObjectNode f = Json.object();
            f.set("id", id);
            f.put("type", "error").put("code", code.wire()).put("msg", msg);
            session.send(f.toString());
        }

        @Override
        public void onClose() {
            closed = true;
            for (String key : List.copyOf(bindings.keySet())) {
                close(bindings.remove(key));
            }
            for (ModuleId key : List.copyOf(debugs.keySet())) {
                close(debugs.remove(key));
            }
        }
    }

    /** Waits for the model's answer to a bind; its {@link ExecException} reaches the client as an error frame. */
    private static <T> T await(CompletableFuture<T> answer) {
        try {
            return answer.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof ExecException x) {
                throw x;
            }
            if (e.getCause() instanceof ActorException) {
                throw new ExecException(ExecException.Code.REQUEST_FAILED, "the device model is busy; try again later");
            }
            throw e;
        }
    }

    private static void close(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            log.debug("closing a binding failed: {}", e.toString());
        }
    }
}
