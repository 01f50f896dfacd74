package io.junction.devices.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;
import io.junction.core.config.ConfigException;
import io.junction.devices.DevicesSettings.Definition;
import io.junction.core.testing.MutableClock;
import io.junction.devices.driver.DriverCatalog;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Job definitions: the shape they are written in, what is refused (with where), parameters and placeholders. */
class JobDefinitionTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T08:00:00Z"));
    final DriverCatalog drivers = new DriverCatalog(clock);

    static ObjectNode json(String text) {
        try {
            return (ObjectNode) Json.parse(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Builds a job manager from these {@code [[jobs]]} sections, as the server does at start-up. */
    Jobs configured(String... specs) {
        drivers.put(new PumpDriver());
        List<Definition> defs = new java.util.ArrayList<>();
        for (int i = 0; i < specs.length; i++) {
            defs.add(new Definition(json(specs[i]), "junction.toml:" + (12 + 10 * i)));
        }
        return Jobs.builder(dir, new FakeModules(clock, drivers), drivers).configJobs(defs).clock(clock)
                .metrics(new SimpleMeterRegistry()).build();
    }

    @Test
    void theWaterExampleReadsAndWritesBackInTheSameShape() {
        JobDefinition d = JobDefinition.parse(json(JobsTest.WATER), "junction.toml:12");
        assertThat(d.name()).isEqualTo("water");
        assertThat(d.driver()).contains("garden-pump");
        assertThat(d.params()).singleElement().satisfies(p -> {
            assertThat(p.type()).isEqualTo(JobParamType.DURATION);
            assertThat(p.fallback().orElseThrow().asText()).isEqualTo("5m");
        });
        assertThat(d.steps()).hasSize(3);
        assertThat(d.steps().get(1)).isEqualTo(new JobDefinition.Wait("{duration}"));
        assertThat(d.neutral()).singleElement().satisfies(c -> assertThat(c.args().toString()).isEqualTo("{\"state\":false}"));
        assertThat(JobDefinition.parse(d.toJson(), "again").toJson()).isEqualTo(json(JobsTest.WATER));
        assertThat(d.offsets(d.bind(json("{\"duration\": \"1h30m\"}")))).containsExactly(0, 0, 5_400_000, 5_400_000);
    }

    @Test
    void argumentsAreBoundWithDefaultsAndPlaceholdersKeepTheirJsonType() {
        JobDefinition d = JobDefinition.parse(json(JobsTest.BOOST), "junction.toml:20");
        ObjectNode values = d.bind(json("{\"level\": 4}"));
        assertThat(values.toString()).isEqualTo("{\"level\":4,\"hold\":\"2m\"}");
        assertThat(JobDefinition.resolve(json("{\"level\": \"{level}\", \"keep\": \"{x}\", \"nested\": [\"{hold}\"]}"), values).toString())
                .isEqualTo("{\"level\":4,\"keep\":\"{x}\",\"nested\":[\"2m\"]}");
        assertThatThrownBy(() -> d.bind(Json.MAPPER.createArrayNode().add(1))).hasMessageContaining("args must be a JSON object");
        assertThatThrownBy(() -> d.bind(json("{\"level\": 2.5, \"hold\": \"400d\"}")))
                .hasMessage("argument level must be a whole number that fits in 32 bits, got 2.5 (number); argument hold must be "
                        + Durations.EXPECTED + ", got \"400d\" (string)");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "250ms|250", "5s|5000", "5m|300000", "1h|3600000", "1d|86400000", "1h30m|5400000", "0s|0"})
    void durationsAreRead(String text, long millis) {
        assertThat(Durations.parse(text)).hasValue(millis);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"5x", "''", "5", "m5", "1h 30m", "367d", "-1s", "1.5s"})
    void notDurationsAreRefused(String text) {
        assertThat(Durations.parse(text)).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            // no driver
            "`{\"name\": \"water\", \"steps\": [{\"call\": \"power\", \"args\": {\"state\": true}}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': needs driver = \"<driver id>\"",
            // a function the driver does not have
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"pwr\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': it calls pwr, which driver garden-pump does not have (it has power, speed, label, purge)",
            // a literal argument of the wrong type
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"power\", \"args\": {\"state\": \"yes\"}}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': garden-pump.power(state: Bool): argument state must be Bool, got \"yes\" (string)",
            // a placeholder whose param has another type than the function's argument
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"params\": {\"d\": \"Duration\"}, \"steps\": [{\"call\": \"power\", \"args\": {\"state\": \"{d}\"}}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': power(state = {d}): param d is Duration, but garden-pump.power takes state as Bool",
            // a missing argument
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"speed\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': garden-pump.speed(level: Int32): missing argument level (Int32)",
            // not a duration
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"purge\"}, {\"wait\": \"5x\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': steps[1]: wait '5x' is not a duration such as",
            // a placeholder that names no param
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"params\": {\"duration\": \"Duration\"}, \"steps\": [{\"call\": \"power\", \"args\": {\"state\": \"{on}\"}}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': steps[0]: args.state: {on} names no param; declared: duration",
            // a wait on a param that is not a Duration
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"params\": {\"n\": \"Int32\"}, \"steps\": [{\"call\": \"purge\"}, {\"wait\": \"{n}\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': steps[1]: wait {n} needs a Duration param, but n is Int32",
            // no neutral state declared
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"purge\"}]}`"
                    + "|junction.toml:12: job 'water': neutral must be an array of the calls that make the device safe",
            // a neutral call that waits
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"purge\"}], \"neutral\": [{\"wait\": \"1s\"}]}`"
                    + "|junction.toml:12: job 'water': neutral[0]: a neutral call cannot wait",
            // a default of the wrong type
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"params\": {\"duration\": [\"Duration\", 5]}, \"steps\": [{\"call\": \"purge\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': the default of param duration must be a duration such as",
            // an unknown type
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"params\": {\"n\": \"Long\"}, \"steps\": [{\"call\": \"purge\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': param n has unknown type 'Long'; use Duration, Int32, Float64, Bool or String",
            // a misspelt key
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"step\": [], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': unknown key 'step'",
            // only waits
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"wait\": \"1s\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': steps need at least one call",
            // a step that is neither
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"run\": \"power\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': steps[0]: expected the key call or wait, got run",
            // no name
            "`{\"driver\": \"garden-pump\", \"steps\": [{\"call\": \"purge\"}], \"neutral\": []}`"
                    + "|junction.toml:12: a job needs a name",
            // too long in all
            "`{\"name\": \"water\", \"driver\": \"garden-pump\", \"steps\": [{\"call\": \"purge\"}, {\"wait\": \"300d\"}, {\"wait\": \"300d\"}], \"neutral\": []}`"
                    + "|junction.toml:12: job 'water': its waits add up to more than 366 days",
    })
    void wrongDefinitionsStopTheStartNamingWhereAndWhat(String spec, String message) {
        assertThatThrownBy(() -> configured(spec)).isInstanceOf(ConfigException.class).hasMessageStartingWith(message);
    }

    @Test
    void twoJobsOfOneNameForOneDriverAreRefused() {
        assertThatThrownBy(() -> configured(JobsTest.WATER, JobsTest.WATER)).isInstanceOf(ConfigException.class)
                .hasMessage("junction.toml:22: job 'water': driver garden-pump already has a job named 'water' (at junction.toml:12); "
                        + "job names must differ per driver");
    }
}
