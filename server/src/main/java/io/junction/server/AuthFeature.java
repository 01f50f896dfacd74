package io.junction.server;

import io.junction.core.feature.FeatureContext;
import io.junction.devices.auth.Accounts;
import io.junction.devices.auth.AuthRoutes;
import io.junction.devices.auth.AuthSettings;

import java.io.UncheckedIOException;

/**
 * Opens the users and tokens (in the state port; an older {@code <data>/auth} folder is imported once) for the
 * composition root and adds their routes.
 */
final class AuthFeature extends NamedFeature<AuthSettings> {

    private Accounts accounts;

    AuthFeature() {
        super("auth", AuthSettings::read);
    }

    @Override
    public AutoCloseable start(FeatureContext context, AuthSettings settings) {
        Accounts accounts;
        try {
            accounts = Accounts.open(context.state(), context.dataDir().resolve("auth"), settings, context.clock());
        } catch (IllegalStateException | UncheckedIOException e) {
            throw new StartupException("cannot open the users and tokens: " + e.getMessage(), e);
        }
        new AuthRoutes(accounts).register(context.routes());
        this.accounts = accounts;
        return accounts;
    }

    /** The accounts, which the HTTP endpoint authenticates every request with; there once the feature has started. */
    Accounts accounts() {
        if (accounts == null) {
            throw new IllegalStateException("the auth feature has not started");
        }
        return accounts;
    }
}
