package io.junction.server;

import io.junction.core.config.ConfigException;
import io.junction.core.feature.FeatureContext;
import io.junction.ota.OtaService;
import io.junction.ota.OtaSettings;
import io.junction.ota.Signer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;

/** Starts the OTA feature for the composition root and returns what closes it. */
final class OtaFeature extends NamedFeature<OtaSettings> {

    OtaFeature() {
        super("ota", OtaSettings::read);
    }

    @Override
    public AutoCloseable start(FeatureContext context, OtaSettings settings) {
        Optional<Signer> signer = signer(settings, context.config().source(), context.env());
        // A chunk travels as one MQTT publish: its encoding must fit the broker's payload limit.
        int largestChunk = settings.chunkBytes() * 4 / 3 + 256;
        if (largestChunk > context.config().mqtt().maxPayloadBytes()) {
            throw new ConfigException(context.config().source() + ": ota.chunk_bytes: " + settings.chunkBytes()
                    + " bytes (about " + largestChunk + " once encoded) do not fit in [mqtt] max_payload_bytes = "
                    + context.config().mqtt().maxPayloadBytes() + "; lower chunk_bytes or raise max_payload_bytes");
        }
        OtaService ota;
        try {
            ota = OtaService.builder()
                    .settings(settings)
                    .clock(context.clock())
                    .hub(context.hub())
                    .raw(context.raw())
                    .publisher(context.publisher())
                    .metrics(context.metrics())
                    .state(context.state())
                    .dir(context.dataDir().resolve("ota"))
                    .signer(signer)
                    .start();
        } catch (IOException e) {
            throw new StartupException("cannot start OTA: " + e.getMessage(), e);
        }
        ota.register(context.routes());
        context.facts().add(ota::deviceFacts);
        return ota;
    }

    private static Optional<Signer> signer(OtaSettings settings, String source, Function<String, String> env) {
        try {
            if (settings.signingKey().isPresent()) {
                Path key = settings.signingKey().get();
                String pem;
                try {
                    pem = Files.readString(key);
                } catch (IOException e) {
                    throw new ConfigException(source + ": ota.signing_key: cannot read " + key + ": " + e.getMessage());
                }
                return Optional.of(Signer.fromPem(pem, key.toString()));
            }
            if (settings.signingKeyEnv().isPresent()) {
                String name = settings.signingKeyEnv().get();
                String pem = env.apply(name);
                if (pem == null || pem.isBlank()) {
                    throw new ConfigException(source + ": ota.signing_key_env: the environment variable " + name + " is not set");
                }
                return Optional.of(Signer.fromPem(pem, "the environment variable " + name));
            }
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": ota: " + e.getMessage());
        }
    }
}
