package io.junction.server;

import io.junction.devices.auth.Accounts;
import io.junction.devices.auth.AuthRoutes;

import java.io.UncheckedIOException;

/**
 * Opens the users and tokens (in the state port; an older {@code <data>/auth} folder is imported once) for the
 * composition root and adds their routes.
 */
final class AuthFeature {

    private AuthFeature() {
    }

    /** The accounts, which the HTTP endpoint authenticates every request with; closing them is the caller's. */
    static Accounts start(FeatureContext context) {
        Accounts accounts;
        try {
            accounts = Accounts.open(context.state(), context.dataDir().resolve("auth"), context.config().devices(), context.clock());
        } catch (IllegalStateException | UncheckedIOException e) {
            throw new StartupException("cannot open the users and tokens: " + e.getMessage(), e);
        }
        new AuthRoutes(accounts).register(context.routes());
        return accounts;
    }
}
