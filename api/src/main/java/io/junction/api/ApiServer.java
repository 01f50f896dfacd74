package io.junction.api;

import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.DirectHandlers;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.websocket.WsRouting;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;
import io.junction.core.http.Access;
import io.junction.core.http.ApiException;
import io.junction.core.http.ApiRequest;
import io.junction.core.http.ApiResponse;
import io.junction.core.http.Method;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.stream.MessageStream;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoint: a Helidon SE web server (a virtual thread per request) that answers every request from a
 * {@link RouteTable}, serves {@code GET /metrics} and the live WebSocket {@code /api/ws}. Errors are always JSON
 * {@code {"error": ..., "detail": ...}}: an {@link ApiException} as it says, any other exception as a 500 whose stack
 * trace is logged under a reference the client sees.
 */
public final class ApiServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);

    public static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    public static final String WEBSOCKET_PATH = "/api/ws";

    private final RouteTable routes;
    /** The routes the server itself answers, looked up before {@link #routes}. */
    private final RouteTable own = new RouteTable();
    private final PrometheusMeterRegistry metrics;
    private final int maxBodyBytes;
    private final LiveHub live;
    private final WebServer server;
    private final Map<Integer, Counter> requestCounters = new ConcurrentHashMap<>();
    /** Who a token belongs to; null when the API is open (tests of this endpoint alone). */
    private final Authenticator authenticator;

    private ApiServer(Builder b) {
        this.routes = Objects.requireNonNull(b.routes, "routes");
        this.metrics = Objects.requireNonNull(b.metrics, "metrics");
        EventHub hub = Objects.requireNonNull(b.hub, "hub");
        this.maxBodyBytes = b.maxBodyBytes;

        own.add(Method.GET, "/metrics", Access.OPEN, r -> ApiResponse.text(200, PROMETHEUS_TEXT, metrics.scrape()));
        own.add(Method.GET, WEBSOCKET_PATH, Access.OPEN, r -> {
            throw new ApiException(426, "upgrade required", WEBSOCKET_PATH + " is a WebSocket: open it with an Upgrade: websocket request",
                    Map.of("Upgrade", "websocket"));
        });

        this.authenticator = b.authenticator;
        this.live = new LiveHub(hub, b.liveQueue, metrics, b.authenticator);
        for (MessageStream stream : b.liveStreams) {
            Gauge.builder("junction.stream.size", stream, MessageStream::sizeBytes).baseUnit("bytes")
                    .tag("stream", stream.name()).description("Bytes the stream takes in storage").register(metrics);
            Gauge.builder("junction.stream.end.offset", stream, MessageStream::endOffset)
                    .tag("stream", stream.name()).description("The offset the next message of the stream will get").register(metrics);
            live.addStream(stream);
        }

        WebServer ws = WebServer.builder()
                .host(b.host)
                .port(b.port)
                .shutdownGracePeriod(java.time.Duration.ofMillis(500))
                // The composition root closes the server in its own order; Helidon's hook would race it.
                .shutdownHook(false)
                .directHandlers(jsonDirectHandlers())
                .routing(r -> r.any(this::serve))
                .addRouting(socketRouting())
                .build();
        try {
            ws.start();
        } catch (RuntimeException e) {
            live.close();
            throw new IllegalStateException("cannot listen for HTTP on " + b.host + ":" + b.port + ": " + reason(e), e);
        }
        if (!ws.isRunning()) {
            // Helidon logs why a listener failed and returns a stopped server; binding again tells the reason.
            live.close();
            throw new IllegalStateException("cannot listen for HTTP on " + b.host + ":" + b.port + ": " + bindProblem(b.host, b.port));
        }
        this.server = ws;
        log.info("http listening host={} port={} routes={}", b.host, server.port(), routes.describe().size());
    }

    private WsRouting.Builder socketRouting() {
        WsRouting.Builder ws = WsRouting.builder().endpoint(WEBSOCKET_PATH, live::newSocket);
        for (RouteTable.Socket socket : routes.sockets()) {
            ws.endpoint(socket.path(), () -> new SocketBridge(socket, authenticator));
        }
        return ws;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The port the server listens on (the one chosen by the system when built with port 0). */
    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        live.close();
        server.stop();
    }

    private void serve(ServerRequest req, ServerResponse res) {
        String method = req.prologue().method().text();
        String rawPath = req.path().rawPath();
        boolean head = method.equalsIgnoreCase("HEAD");
        ApiResponse response;
        try {
            response = dispatch(req, method, rawPath);
        } catch (ApiException e) {
            response = e.toResponse();
        } catch (Exception e) {
            String ref = UUID.randomUUID().toString().substring(0, 8);
            log.error("request {} {} failed ref={}", method, req.path().path(), ref, e);
            response = ApiResponse.error(500, "internal error",
                    "the server failed to answer " + method + " " + req.path().path() + "; its log has the cause under ref " + ref);
        }
        requestCounters.computeIfAbsent(response.status(), s -> Counter.builder("junction.http.requests")
                .tag("status", Integer.toString(s)).description("HTTP requests answered, by status").register(metrics)).increment();
        write(res, response, head);
    }

    private ApiResponse dispatch(ServerRequest req, String method, String rawPath) throws Exception {
        // HEAD is answered by the GET route, without the body (RFC 9110 9.3.2), as players and caches expect.
        String routed = method.equalsIgnoreCase("HEAD") ? "GET" : method;
        RouteTable.Lookup lookup = own.lookup(routed, rawPath);
        if (lookup instanceof RouteTable.NotFound) {
            lookup = routes.lookup(routed, rawPath);
        }
        return switch (lookup) {
            case RouteTable.NotFound n -> throw ApiException.notFound("no route for " + method + " " + req.path().path());
            case RouteTable.MethodNotAllowed m -> {
                String allowed = m.allowed().stream().map(Enum::name).sorted().collect(Collectors.joining(", "));
                throw new ApiException(405, "method not allowed", method + " is not allowed on " + req.path().path()
                        + "; use " + allowed, Map.of("Allow", allowed));
            }
            case RouteTable.Found f -> {
                Map<String, List<String>> query = query(req);
                Map<String, List<String>> headers = headers(req);
                Optional<Principal> caller = authenticate(f, method, req.path().path(), headers, query);
                yield f.handler().handle(new ApiRequest(f.method(), req.path().path(), f.pathParams(),
                        query, headers, body(req), caller));
            }
        };
    }

    /** The caller of a route that needs one: 401 without a valid token, 403 when the role is not enough. */
    private Optional<Principal> authenticate(RouteTable.Found f, String method, String path,
                                             Map<String, List<String>> headers, Map<String, List<String>> query) {
        if (authenticator == null) {
            return Optional.empty();
        }
        Optional<String> token = Tokens.find(headers, query);
        if (f.access() == Access.OPEN) {
            return token.flatMap(authenticator::authenticate);
        }
        if (token.isEmpty()) {
            throw new ApiException(401, "unauthorized", method + " " + path
                    + " needs a token: log in with POST /api/auth/login and send Authorization: Bearer <token>",
                    Map.of("WWW-Authenticate", "Bearer"));
        }
        Principal caller = authenticator.authenticate(token.get()).orElseThrow(() -> new ApiException(401, "unauthorized",
                "the token is unknown, expired or revoked: log in again with POST /api/auth/login", Map.of("WWW-Authenticate", "Bearer")));
        Role needed = f.access().role().orElseThrow();
        if (!caller.may(needed)) {
            log.info("denied user={} role={} call={} {} reason=needs role {}", caller.user(), caller.role().id(), method, path, needed.id());
            throw new ApiException(403, "forbidden", method + " " + path + " needs the role " + needed.id()
                    + "; user '" + caller.user() + "' has " + caller.role().id());
        }
        return Optional.of(caller);
    }

    private static Map<String, List<String>> query(ServerRequest req) {
        Map<String, List<String>> query = new LinkedHashMap<>();
        try {
            var q = req.query();
            for (String name : q.names()) {
                query.put(name, List.copyOf(q.all(name)));
            }
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("the query string cannot be decoded: " + e.getMessage());
        }
        return query;
    }

    private static Map<String, List<String>> headers(ServerRequest req) {
        Map<String, List<String>> headers = new HashMap<>();
        for (var h : req.headers()) {
            headers.computeIfAbsent(h.name().toLowerCase(Locale.ROOT), n -> new ArrayList<>()).addAll(h.allValues());
        }
        return headers;
    }

    /** Reads the body, refusing (413) one longer than the limit before reading it when its length is declared. */
    private byte[] body(ServerRequest req) {
        if (!req.content().hasEntity()) {
            return new byte[0];
        }
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > maxBodyBytes) {
            throw tooLarge(declared.getAsLong() + " bytes");
        }
        try (InputStream in = req.content().inputStream()) {
            byte[] body = in.readNBytes(maxBodyBytes + 1);
            if (body.length > maxBodyBytes) {
                throw tooLarge("more than " + maxBodyBytes + " bytes");
            }
            return body;
        } catch (IOException e) {
            throw new UncheckedIOException("reading the request body failed", e);
        }
    }

    private ApiException tooLarge(String size) {
        return ApiException.payloadTooLarge("the request body has " + size + "; the limit is " + maxBodyBytes + " bytes");
    }

    private static void write(ServerResponse res, ApiResponse response, boolean head) {
        res.status(Status.create(response.status()));
        response.headers().forEach(res::header);
        if (response.body().length == 0 && response.contentType().isEmpty()) {
            res.send();
            return;
        }
        res.header(HeaderNames.CONTENT_TYPE, response.contentType());
        if (head) {
            res.header(HeaderNames.CONTENT_LENGTH, Integer.toString(response.body().length));
            res.send();
            return;
        }
        res.send(response.body());
    }

    /** Requests Helidon refuses before routing (malformed request line, bad escapes, ...) get a JSON error too. */
    private static DirectHandlers jsonDirectHandlers() {
        DirectHandler json = (request, event, status, headers, message) -> {
            String detail = status.code() >= 500 || message == null || message.isBlank()
                    ? "the request cannot be handled: " + status.reasonPhrase().toLowerCase(Locale.ROOT)
                    : message;
            ApiResponse error = ApiResponse.error(status.code(), status.reasonPhrase().toLowerCase(Locale.ROOT), detail);
            return DirectHandler.TransportResponse.builder()
                    .status(status)
                    .headers(headers)
                    .header(HeaderNames.CONTENT_TYPE, error.contentType())
                    .entity(error.body())
                    .keepAlive(event.keepAlive())
                    .build();
        };
        DirectHandlers.Builder handlers = DirectHandlers.builder();
        for (DirectHandler.EventType event : DirectHandler.EventType.values()) {
            handlers.addHandler(event, json);
        }
        return handlers.build();
    }

    private static String bindProblem(String host, int port) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(host, port));
            return "the web server did not start (see its log)";
        } catch (IOException e) {
            return reason(e);
        }
    }

    private static String reason(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage();
        return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
    }

    /** What the server needs; {@code routes}, {@code hub} and {@code metrics} are required. */
    public static final class Builder {
        private String host = "0.0.0.0";
        private int port = 8080;
        private RouteTable routes;
        private EventHub hub;
        private PrometheusMeterRegistry metrics;
        private final List<MessageStream> liveStreams = new ArrayList<>();
        private int liveQueue = 1024;
        private int maxBodyBytes = 1024 * 1024;
        private Authenticator authenticator;

        private Builder() {
        }

        /**
         * Makes every route and WebSocket but the {@code OPEN} ones need a token this authenticator knows (401 without
         * one, 403 when the route needs a higher role). Without it the API is open.
         */
        public Builder authenticator(Authenticator authenticator) {
            this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
            return this;
        }

        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /** 0 lets the system choose a free port; {@link ApiServer#port()} tells which. */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be from 0 to 65535, got " + port);
            }
            this.port = port;
            return this;
        }

        /** The routes every request is answered from; the server itself answers {@code GET /metrics} and {@code /api/ws}. */
        public Builder routes(RouteTable routes) {
            this.routes = routes;
            return this;
        }

        /** Where WebSocket clients subscribe to hub events ({@code "source": "events"}). */
        public Builder hub(EventHub hub) {
            this.hub = hub;
            return this;
        }

        /** The registry {@code GET /metrics} shows; the server adds its own meters to it. */
        public Builder metrics(PrometheusMeterRegistry metrics) {
            this.metrics = metrics;
            return this;
        }

        /** A stream WebSocket clients can subscribe to as {@code "source": <its name>}; call once per stream. */
        public Builder liveStream(MessageStream stream) {
            for (MessageStream s : liveStreams) {
                if (s.name().equals(stream.name())) {
                    throw new IllegalArgumentException("a live stream named '" + stream.name() + "' is already added");
                }
            }
            liveStreams.add(stream);
            return this;
        }

        /** How many messages wait for one WebSocket client before the oldest are dropped (config {@code live.queue}). */
        public Builder liveQueue(int capacity) {
            if (capacity < 1) {
                throw new IllegalArgumentException("the live queue must hold at least 1 message, got " + capacity);
            }
            this.liveQueue = capacity;
            return this;
        }

        /** The largest request body accepted (default 1 MiB); longer ones get 413. */
        public Builder maxBodyBytes(int bytes) {
            if (bytes < 0 || bytes == Integer.MAX_VALUE) {
                throw new IllegalArgumentException("the body limit must not be negative, got " + bytes);
            }
            this.maxBodyBytes = bytes;
            return this;
        }

        /** Builds the server and starts listening; throws when it cannot (the message names host:port and why). */
        public ApiServer start() {
            return new ApiServer(this);
        }
    }
}
