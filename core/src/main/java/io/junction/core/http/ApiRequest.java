package io.junction.core.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.junction.core.Json;
import io.junction.core.auth.Principal;
import io.junction.core.auth.Role;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One HTTP request, as a route's handler sees it, independent of the HTTP server that received it.
 *
 * @param path       the decoded path, without the query
 * @param pathParams the values of the route's {@code {name}} segments, decoded
 * @param query      query parameters, decoded, in the order they came
 * @param headers    header values by lower-case name
 * @param body       the request body; empty when there is none
 * @param caller     who sent it; empty on an open route or when the API has no authentication
 */
public record ApiRequest(Method method, String path, Map<String, String> pathParams, Map<String, List<String>> query,
                         Map<String, List<String>> headers, byte[] body, Optional<Principal> caller) {

    /** A request without a known caller. */
    public ApiRequest(Method method, String path, Map<String, String> pathParams, Map<String, List<String>> query,
                      Map<String, List<String>> headers, byte[] body) {
        this(method, path, pathParams, query, headers, body, Optional.empty());
    }

    /** The caller, who must have at least {@code role}: otherwise a 403 that says what is needed (401 when anonymous). */
    public Principal require(Role role) {
        Principal p = caller.orElseThrow(() -> new ApiException(401, "unauthorized",
                method + " " + path + " needs a token: log in with POST /api/auth/login and send Authorization: Bearer <token>"));
        if (!p.may(role)) {
            throw new ApiException(403, "forbidden", method + " " + path + " needs the role " + role.id()
                    + "; user '" + p.user() + "' has " + p.role().id());
        }
        return p;
    }

    public ApiRequest {
        Objects.requireNonNull(caller, "caller");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        pathParams = Map.copyOf(pathParams);
        query = Map.copyOf(query);
        headers = Map.copyOf(headers);
        Objects.requireNonNull(body, "body");
    }

    /** The value of the route's {@code {name}} segment; the route must declare it. */
    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalStateException("the route of " + method + " " + path + " has no path parameter {" + name + "}");
        }
        return value;
    }

    /** The first value of query parameter {@code name}. */
    public Optional<String> query(String name) {
        List<String> values = query.get(name);
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.getFirst());
    }

    /** The first value of header {@code name} (any case). */
    public Optional<String> header(String name) {
        List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.getFirst());
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The body as one JSON value; a 400 {@link ApiException} that says what is wrong when it is missing or not JSON. */
    public JsonNode bodyJson() {
        if (body.length == 0) {
            throw ApiException.badRequest("the request has no body: send a JSON document");
        }
        try (JsonParser p = Json.MAPPER.createParser(body)) {
            JsonNode node = Json.MAPPER.readTree(p);
            if (node == null) {
                throw ApiException.badRequest("the request body is empty: send a JSON document");
            }
            if (p.nextToken() != null) {
                throw ApiException.badRequest("the request body has more after the first JSON value (line "
                        + p.currentLocation().getLineNr() + ", column " + p.currentLocation().getColumnNr() + ")");
            }
            return node;
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ApiException.badRequest("the request body is not valid JSON" + where + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest("the request body cannot be read as JSON: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "ApiRequest[" + method + " " + path + ", " + body.length + " bytes]";
    }
}
