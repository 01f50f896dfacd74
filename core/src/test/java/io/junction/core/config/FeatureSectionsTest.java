package io.junction.core.config;

import io.junction.core.feature.Feature;
import io.junction.core.feature.FeatureContext;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The loader hands every section that is not the spine's to the feature that reads it, and rejects the rest. */
class FeatureSectionsTest {

    /** A feature with a section and a list of tables, a secret, and a rule of its own. */
    record GreeterSettings(String greeting, int times, List<String> names, Optional<String> token) {
    }

    static final class Greeter implements Feature<GreeterSettings> {
        @Override
        public String name() {
            return "greeter";
        }

        @Override
        public GreeterSettings check(Section root) {
            Section s = root.table("greeter");
            String greeting = s.string("greeting", "hello");
            int times = (int) s.integer("times", 1, 1, 10);
            Optional<String> token = s.secret("token");
            if (greeting.isBlank()) {
                throw s.error("greeting", "must not be blank");
            }
            s.finish();
            List<String> names = root.tableList("guests").stream().map(g -> {
                String n = g.string("name", "?");
                g.finish();
                return n;
            }).toList();
            return new GreeterSettings(greeting, times, names, token);
        }

        @Override
        public AutoCloseable start(FeatureContext context, GreeterSettings settings) {
            return () -> {
            };
        }
    }

    private final ConfigLoader loader = new ConfigLoader(Map.of("GREETER_TOKEN", "t0k3n")::get, List.of(new Greeter()));

    @Test
    void aFeaturesSectionsAreCheckedIntoItsOwnRecord() {
        JunctionConfig c = loader.parse("j.toml", """
                [greeter]
                greeting = "hi"
                times = 3
                token_env = "GREETER_TOKEN"

                [[guests]]
                name = "ada"
                """);
        GreeterSettings g = c.settings(GreeterSettings.class);
        assertThat(g).isEqualTo(new GreeterSettings("hi", 3, List.of("ada"), Optional.of("t0k3n")));
        assertThat(c.features()).containsOnlyKeys("greeter");
        assertThat(loader.parse("j.toml", "").settings(GreeterSettings.class))
                .isEqualTo(new GreeterSettings("hello", 1, List.of(), Optional.empty()));
    }

    @Test
    void aFeaturesErrorsNameTheFileTheLineAndTheKey() {
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nport = 1\n\n[greeter]\ntimes = 11\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("j.toml:5: greeter.times: expected a whole number from 1 to 10, got 11");
        assertThatThrownBy(() -> loader.parse("j.toml", "[greeter]\ngreeting = \" \"\n"))
                .hasMessage("j.toml:2: greeter.greeting: must not be blank");
        assertThatThrownBy(() -> loader.parse("j.toml", "[greeter]\ngreting = \"hi\"\n"))
                .hasMessageStartingWith("j.toml:2: greeter.greting: unknown key");
        assertThatThrownBy(() -> loader.parse("j.toml", "[[guests]]\nname = \"a\"\n[[guests]]\nnmae = \"b\"\n"))
                .hasMessageStartingWith("j.toml:3: guests[2].nmae: unknown key");
        assertThatThrownBy(() -> loader.parse("j.toml", "[greeter]\ntoken_env = \"NOPE\"\n"))
                .hasMessageContaining("j.toml:2: greeter.token_env: the environment variable NOPE is not set");
    }

    @Test
    void aSectionNeitherTheSpineNorAFeatureReadsIsUnknownAndTheAllowedOnesAreListed() {
        assertThatThrownBy(() -> loader.parse("j.toml", "[mqtt]\nport = 1\n\n[greeters]\ntimes = 2\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("j.toml:4: greeters: unknown key; the keys allowed here are data, greeter, guests, http, live, "
                        + "mapping, mqtt");
        assertThatThrownBy(() -> new ConfigLoader(k -> null).parse("j.toml", "[greeter]\ntimes = 2\n"))
                .hasMessageStartingWith("j.toml:1: greeter: unknown key");
    }

    @Test
    void twoFeaturesCannotShareAName() {
        assertThatThrownBy(() -> new ConfigLoader(k -> null, List.of(new Greeter(), new Greeter())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("greeter");
    }

    @Test
    void theEnvironmentTheFileWasReadInTravelsWithTheConfig() {
        assertThat(loader.parse("j.toml", "").env().apply("GREETER_TOKEN")).isEqualTo("t0k3n");
        assertThatThrownBy(() -> JunctionConfig.defaults().settings(GreeterSettings.class))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("GreeterSettings");
    }
}
