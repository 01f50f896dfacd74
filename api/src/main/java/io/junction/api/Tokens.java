package io.junction.api;

import io.helidon.http.HttpPrologue;
import io.helidon.websocket.WsUpgradeException;
import io.junction.core.auth.Authenticator;
import io.junction.core.auth.Principal;
import io.junction.core.http.Access;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where a caller's token is found: the {@code Authorization: Bearer <token>} (or {@code Token <token>}) header, else a {@code bearer_token} or
 * {@code token} query parameter (browsers cannot set headers on a WebSocket).
 */
final class Tokens {

    private Tokens() {
    }

    static Optional<String> find(Map<String, List<String>> headers, Map<String, List<String>> query) {
        List<String> auth = headers.get("authorization");
        if (auth != null) {
            for (String value : auth) {
                if (value.regionMatches(true, 0, "Bearer ", 0, 7) && value.length() > 7) {
                    return Optional.of(value.substring(7).trim());
                }
                // InfluxDB clients and Telegraf send "Token <token>" to the line-protocol write routes.
                if (value.regionMatches(true, 0, "Token ", 0, 6) && value.length() > 6) {
                    return Optional.of(value.substring(6).trim());
                }
            }
        }
        for (String name : List.of("bearer_token", "token")) {
            List<String> values = query.get(name);
            if (values != null && !values.isEmpty() && !values.getFirst().isBlank()) {
                return Optional.of(values.getFirst());
            }
        }
        return Optional.empty();
    }

    /**
     * For a WebSocket upgrade, also a {@code bearer_token} cookie: PlaceOS front-ends in a browser set it (SameSite=Strict)
     * before opening the socket. Only sockets take it; REST routes never read cookies, so a cross-site form cannot call them.
     */
    static Optional<String> findForSocket(Map<String, List<String>> headers, Map<String, List<String>> query) {
        Optional<String> direct = find(headers, query);
        if (direct.isPresent()) {
            return direct;
        }
        List<String> cookies = headers.get("cookie");
        if (cookies != null) {
            for (String header : cookies) {
                for (String pair : header.split(";")) {
                    String p = pair.trim();
                    if (p.startsWith("bearer_token=") && p.length() > "bearer_token=".length()) {
                        return Optional.of(p.substring("bearer_token=".length()));
                    }
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The caller of a WebSocket upgrade, refused (the upgrade fails with a reason) when a token is needed and missing or
     * unknown. Empty when the API has no authentication.
     */
    static Optional<Principal> upgrade(Authenticator authenticator, Access access, HttpPrologue prologue,
                                       Map<String, List<String>> headers, Map<String, List<String>> query) throws WsUpgradeException {
        if (authenticator == null || access == Access.OPEN) {
            return Optional.empty();
        }
        String token = findForSocket(headers, query).orElseThrow(() -> new WsUpgradeException(
                prologue.uriPath().path() + " needs a token: send Authorization: Bearer <token> or ?bearer_token=<token>"));
        Principal p = authenticator.authenticate(token).orElseThrow(() -> new WsUpgradeException("the token is not valid"));
        if (access.role().isPresent() && !p.may(access.role().get())) {
            throw new WsUpgradeException(prologue.uriPath().path() + " needs the role " + access.role().get().id());
        }
        return Optional.of(p);
    }
}
