package io.junction.core.auth;

import java.util.Optional;

/**
 * The port the HTTP endpoint asks who a bearer token belongs to. The devices feature implements it with its users and
 * API tokens; without one the API is open (tests of the HTTP endpoint alone).
 */
@FunctionalInterface
public interface Authenticator {

    /** The principal the token stands for, or empty when the token is unknown, expired or revoked. */
    Optional<Principal> authenticate(String token);
}
