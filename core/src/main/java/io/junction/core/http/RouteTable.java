package io.junction.core.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The HTTP routes of the process, registered by any module (spine, devices, OTA, media) without depending on the HTTP
 * server: a method, a path pattern and a handler. A pattern is literal segments and {@code {name}} segments, such as
 * {@code /api/devices/{uid}}; a {@code {name}} segment matches one non-empty segment. Where two patterns match the
 * same path, the one whose first differing segment is literal wins ({@code /api/devices/count} over
 * {@code /api/devices/{uid}}).
 */
public final class RouteTable {

    private final List<Route> routes = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    /**
     * Registers {@code handler} for {@code method} requests whose path matches {@code pattern}. Throws
     * {@link IllegalArgumentException} for a malformed pattern or when the same method and pattern shape is
     * already registered.
     */
    public RouteTable add(Method method, String pattern, Handler handler) {
        return add(method, pattern, Access.defaultFor(method), handler);
    }

    /** Registers a route that needs {@code access} (see {@link #add(Method, String, Handler)}). */
    public RouteTable add(Method method, String pattern, Access access, Handler handler) {
        return add(method, pattern, access, "", handler);
    }

    /**
     * Registers a route that needs {@code access}, with a one-line {@code description} for the HTTP API reference
     * ({@code docs/http-api.md}, generated from {@link #routes()}).
     */
    public RouteTable add(Method method, String pattern, Access access, String description, Handler handler) {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(handler, "handler");
        Route route = new Route(method, pattern, parse(pattern), access, description.strip(), handler);
        synchronized (routes) {
            for (Route r : routes) {
                if (r.method == method && r.sameShape(route)) {
                    throw new IllegalArgumentException("a route for " + method + " " + r.pattern
                            + " is already registered; cannot add " + method + " " + pattern);
                }
            }
            routes.add(route);
        }
        return this;
    }

    /**
     * Finds the route for a request. {@code method} is the request's method as sent ({@code HEAD} and other methods no
     * route can have give {@link MethodNotAllowed} when the path is known); {@code rawPath} is the path as sent,
     * percent-encoded, without the query.
     */
    public Lookup lookup(String method, String rawPath) {
        List<String> segments = decodeSegments(rawPath);
        if (segments == null) {
            return new NotFound();
        }
        Optional<Method> m = Method.parse(method);
        Route best = null;
        Set<Method> allowed = EnumSet.noneOf(Method.class);
        for (Route r : routes) {
            if (!r.matches(segments)) {
                continue;
            }
            allowed.add(r.method);
            if (m.isPresent() && r.method == m.get() && (best == null || r.moreSpecificThan(best))) {
                best = r;
            }
        }
        if (best != null) {
            return new Found(best.method, best.pattern, best.access, best.handler, best.params(segments));
        }
        return allowed.isEmpty() ? new NotFound() : new MethodNotAllowed(Collections.unmodifiableSet(allowed));
    }

    /**
     * Registers a WebSocket endpoint at a literal {@code path}; the HTTP endpoint authenticates the upgrade request
     * (token in the {@code Authorization} header or a {@code bearer_token}/{@code token} query parameter) before
     * {@code endpoint} sees the socket.
     */
    public RouteTable socket(String path, Access access, SocketEndpoint endpoint) {
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(endpoint, "endpoint");
        for (Segment s : parse(path)) {
            if (s.param) {
                throw new IllegalArgumentException("a WebSocket path must be literal, got '" + path + "'");
            }
        }
        synchronized (routes) {
            for (Socket s : sockets) {
                if (s.path().equals(path)) {
                    throw new IllegalArgumentException("a WebSocket at " + path + " is already registered");
                }
            }
            sockets.add(new Socket(path, access, endpoint));
        }
        return this;
    }

    /** The registered WebSocket endpoints, in registration order. */
    public List<Socket> sockets() {
        return List.copyOf(sockets);
    }

    /** A WebSocket endpoint: its path, who may open it, and what serves it. */
    public record Socket(String path, Access access, SocketEndpoint endpoint) {
    }

    /** Every registered route with its access and description, in registration order (read-only; for the API reference). */
    public List<RouteInfo> routes() {
        List<RouteInfo> list = new ArrayList<>();
        for (Route r : routes) {
            list.add(new RouteInfo(r.method, r.pattern, r.access, r.description));
        }
        return List.copyOf(list);
    }

    /** A registered route as the API reference lists it; {@code description} is empty when none was given. */
    public record RouteInfo(Method method, String pattern, Access access, String description) {
    }

    /** Every registered route as {@code "GET /api/health"}, in registration order. */
    public List<String> describe() {
        List<String> list = new ArrayList<>();
        for (Route r : routes) {
            list.add(r.method + " " + r.pattern);
        }
        return list;
    }

    /** What {@link #lookup} found. */
    public sealed interface Lookup permits Found, MethodNotAllowed, NotFound {
    }

    /** A route for the method and path, with the decoded values of its {@code {name}} segments. */
    public record Found(Method method, String pattern, Access access, Handler handler, Map<String, String> pathParams) implements Lookup {
    }

    /** The path is known, but not for this method; {@code allowed} are the methods it has routes for. */
    public record MethodNotAllowed(Set<Method> allowed) implements Lookup {
    }

    /** No route has this path. */
    public record NotFound() implements Lookup {
    }

    /** One segment of a pattern: a literal, or a parameter name. */
    private record Segment(String text, boolean param) {
    }

    private static final class Route {
        final Method method;
        final String pattern;
        final Segment[] segments;
        final Access access;
        final String description;
        final Handler handler;

        Route(Method method, String pattern, Segment[] segments, Access access, String description, Handler handler) {
            this.method = method;
            this.pattern = pattern;
            this.segments = segments;
            this.access = access;
            this.description = description;
            this.handler = handler;
        }

        boolean matches(List<String> path) {
            if (path.size() != segments.length) {
                return false;
            }
            for (int i = 0; i < segments.length; i++) {
                Segment s = segments[i];
                String p = path.get(i);
                if (s.param ? p.isEmpty() : !s.text.equals(p)) {
                    return false;
                }
            }
            return true;
        }

        Map<String, String> params(List<String> path) {
            Map<String, String> params = new LinkedHashMap<>();
            for (int i = 0; i < segments.length; i++) {
                if (segments[i].param) {
                    params.put(segments[i].text, path.get(i));
                }
            }
            return params;
        }

        boolean moreSpecificThan(Route other) {
            for (int i = 0; i < segments.length; i++) {
                if (segments[i].param != other.segments[i].param) {
                    return !segments[i].param;
                }
            }
            return false;
        }

        boolean sameShape(Route other) {
            if (segments.length != other.segments.length) {
                return false;
            }
            for (int i = 0; i < segments.length; i++) {
                Segment a = segments[i];
                Segment b = other.segments[i];
                if (a.param != b.param || (!a.param && !a.text.equals(b.text))) {
                    return false;
                }
            }
            return true;
        }
    }

    private static Segment[] parse(String pattern) {
        Objects.requireNonNull(pattern, "pattern");
        if (!pattern.startsWith("/")) {
            throw new IllegalArgumentException("invalid route pattern '" + pattern + "': it must start with '/'");
        }
        if (pattern.equals("/")) {
            return new Segment[0];
        }
        String[] parts = pattern.substring(1).split("/", -1);
        Segment[] segments = new Segment[parts.length];
        List<String> names = new ArrayList<>();
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i];
            if (part.isEmpty()) {
                throw new IllegalArgumentException("invalid route pattern '" + pattern + "': it has an empty segment");
            }
            if (part.startsWith("{") && part.endsWith("}")) {
                String name = part.substring(1, part.length() - 1);
                if (!name.matches("[A-Za-z][A-Za-z0-9_]*")) {
                    throw new IllegalArgumentException("invalid route pattern '" + pattern + "': parameter '" + part
                            + "' needs a name of letters, digits and '_', as in '{uid}'");
                }
                if (names.contains(name)) {
                    throw new IllegalArgumentException("invalid route pattern '" + pattern + "': parameter {" + name + "} appears twice");
                }
                names.add(name);
                segments[i] = new Segment(name, true);
            } else if (part.indexOf('{') >= 0 || part.indexOf('}') >= 0) {
                throw new IllegalArgumentException("invalid route pattern '" + pattern + "': a parameter must be a whole segment, as in '/api/devices/{uid}'");
            } else {
                segments[i] = new Segment(part, false);
            }
        }
        return segments;
    }

    /** The decoded segments of a raw path, or null when it is not a valid path. */
    static List<String> decodeSegments(String rawPath) {
        if (rawPath == null || !rawPath.startsWith("/")) {
            return null;
        }
        if (rawPath.equals("/")) {
            return List.of();
        }
        String[] parts = rawPath.substring(1).split("/", -1);
        List<String> segments = new ArrayList<>(parts.length);
        for (String part : parts) {
            String decoded = percentDecode(part);
            if (decoded == null) {
                return null;
            }
            segments.add(decoded);
        }
        return segments;
    }

    /** Decodes %XX sequences as UTF-8 ('+' stays '+', as it does in a path); null when malformed. */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
        int i = 0;
        while (i < s.length()) {
            int percent = s.indexOf('%', i);
            int runEnd = percent < 0 ? s.length() : percent;
            bytes.writeBytes(s.substring(i, runEnd).getBytes(StandardCharsets.UTF_8));
            if (percent < 0) {
                break;
            }
            if (percent + 2 >= s.length()) {
                return null;
            }
            int hi = Character.digit(s.charAt(percent + 1), 16);
            int lo = Character.digit(s.charAt(percent + 2), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            bytes.write(hi * 16 + lo);
            i = percent + 3;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
