package io.junction.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code --engines} and {@code --runs} of {@code bench ingest} and {@code bench exec}: what is accepted, what is refused. */
class EngineOptionsTest {

    @Test
    void aSetupIsEmbeddedAllOrACommaListOfEngines() throws Exception {
        assertThat(EngineSetup.parse("embedded")).isEqualTo(EngineSetup.EMBEDDED);
        assertThat(EngineSetup.parse("all")).isEqualTo(EngineSetup.ALL);
        assertThat(EngineSetup.parse("kafka,redis,postgres")).isEqualTo(EngineSetup.ALL);
        assertThat(EngineSetup.parse(" Postgres , kafka ")).isEqualTo(new EngineSetup(true, false, true));
        assertThat(EngineSetup.parse("redis")).isEqualTo(new EngineSetup(false, true, false));
        assertThat(EngineSetup.parse("postgres,kafka").label()).isEqualTo("kafka+postgres");
        assertThat(EngineSetup.ALL.label()).isEqualTo("kafka+redis+postgres");
        assertThat(EngineSetup.EMBEDDED.label()).isEqualTo("embedded");
        assertThat(EngineSetup.EMBEDDED.isEmbedded()).isTrue();
        assertThat(EngineSetup.ALL.isEmbedded()).isFalse();
    }

    @Test
    void badSetupsAreRefusedSayingWhy() {
        assertThatThrownBy(() -> EngineSetup.parse("")).isInstanceOf(Args.UsageException.class).hasMessageContaining("empty setup");
        assertThatThrownBy(() -> EngineSetup.parse("kafka,")).hasMessageContaining("empty engine name");
        assertThatThrownBy(() -> EngineSetup.parse("kafka,mysql")).hasMessageContaining("unknown engine 'mysql'")
                .hasMessageContaining("kafka, redis, postgres");
        assertThatThrownBy(() -> EngineSetup.parse("redis,redis")).hasMessageContaining("'redis' is named twice");
        assertThatThrownBy(() -> EngineSetup.parse("embedded,kafka")).hasMessageContaining("'embedded' stands alone")
                .hasMessageContaining("embedded/all");
        assertThatThrownBy(() -> EngineSetup.parse("all,redis")).hasMessageContaining("'all' stands alone");
    }

    @Test
    void setupsSeparatedBySlashesRunInOrderEachOnce() throws Exception {
        assertThat(EngineSetup.parseList("embedded/all")).containsExactly(EngineSetup.EMBEDDED, EngineSetup.ALL);
        assertThat(EngineSetup.parseList("all/embedded/kafka")).containsExactly(EngineSetup.ALL, EngineSetup.EMBEDDED,
                new EngineSetup(true, false, false));
        assertThat(EngineSetup.parseList("kafka,redis,postgres")).containsExactly(EngineSetup.ALL);
        assertThatThrownBy(() -> EngineSetup.parseList("all/kafka,redis,postgres"))
                .hasMessageContaining("'kafka+redis+postgres' is named twice").hasMessageContaining("--runs");
        assertThatThrownBy(() -> EngineSetup.parseList("embedded/")).hasMessageContaining("empty setup");
    }

    @Test
    void ingestTakesEnginesAndRuns() throws Exception {
        IngestBench.Options plain = BenchMain.ingestOptions(new String[]{"ingest"});
        assertThat(plain.engines()).isEmpty();
        assertThat(plain.runs()).isEqualTo(1);

        IngestBench.Options o = BenchMain.ingestOptions(new String[]{"ingest", "--engines", "embedded/all", "--runs=3",
                "--qos", "1", "--no-reference"});
        assertThat(o.engines()).containsExactly(EngineSetup.EMBEDDED, EngineSetup.ALL);
        assertThat(o.runs()).isEqualTo(3);
        assertThat(o.qos()).containsExactly(1);
        assertThat(o.reference()).isFalse();

        assertThat(BenchMain.ingestOptions(new String[]{"ingest", "--engines=kafka"}).engines())
                .containsExactly(new EngineSetup(true, false, false));
    }

    @Test
    void ingestRefusesBadEnginesAndRuns() {
        assertThatThrownBy(() -> BenchMain.ingestOptions(new String[]{"ingest", "--engines"}))
                .isInstanceOf(Args.UsageException.class).hasMessageContaining("--engines needs a value");
        assertThatThrownBy(() -> BenchMain.ingestOptions(new String[]{"ingest", "--engines", "cassandra"}))
                .hasMessageContaining("unknown engine 'cassandra'");
        assertThatThrownBy(() -> BenchMain.ingestOptions(new String[]{"ingest", "--runs", "0"}))
                .hasMessageContaining("--runs must be between 1 and 100");
        assertThatThrownBy(() -> BenchMain.ingestOptions(new String[]{"ingest", "--runs", "three"}))
                .hasMessageContaining("--runs expects a whole number");
        assertThatThrownBy(() -> BenchMain.ingestOptions(new String[]{"ingest", "--engines", "all", "--no-junction"}))
                .hasMessageContaining("--engines with --no-junction");
    }

    @Test
    void execTakesEnginesAndRunsAndRefusesWhatItDoesNotKnow() throws Exception {
        ExecBench.Options d = ExecBench.options(new String[]{});
        assertThat(d).isEqualTo(new ExecBench.Options(2000, 10, 1000, 100, List.of(), 1));
        ExecBench.Options o = ExecBench.options(new String[]{"--engines", "embedded/redis,postgres", "--runs", "3",
                "--rate", "500", "--clients", "10"});
        assertThat(o.engines()).containsExactly(EngineSetup.EMBEDDED, new EngineSetup(false, true, true));
        assertThat(o.runs()).isEqualTo(3);
        assertThat(o.rate()).isEqualTo(500);
        assertThat(o.clients()).isEqualTo(10);
        assertThatThrownBy(() -> ExecBench.options(new String[]{"--engines", "embedded,all"}))
                .isInstanceOf(Args.UsageException.class).hasMessageContaining("stands alone");
        assertThatThrownBy(() -> ExecBench.options(new String[]{"--rate", "fast"}))
                .hasMessageContaining("--rate expects a whole number");
        assertThatThrownBy(() -> ExecBench.options(new String[]{"--bogus"})).hasMessageContaining("unknown option '--bogus'");
    }

    @Test
    void aBadEnginesOptionStopsTheBenchBeforeAnythingStartsWithItsOwnUsage() {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int code = BenchMain.run(new String[]{"exec", "--engines", "kafka,kafka"},
                new java.io.PrintStream(out, true), new java.io.PrintStream(err, true));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("bench: --engines 'kafka,kafka': 'kafka' is named twice")
                .contains("usage: ./junction bench exec");
        assertThat(out.toString()).isEmpty();

        err.reset();
        code = BenchMain.run(new String[]{"ingest", "--engines", "all/", "--qos", "1"},
                new java.io.PrintStream(out, true), new java.io.PrintStream(err, true));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("empty setup").contains("usage: bench <command>");
    }

    @Test
    void execAndIngestHelpNameTheOption() {
        assertThat(ExecBench.HELP).contains("--engines").contains("--runs");
        assertThat(BenchMain.USAGE).contains("--engines SETUPS").contains("--runs N");
    }

    @Test
    void theEmbeddedSetupStartsNothingAndSelectsTheEmbeddedStores() throws Exception {
        try (BenchEngines e = BenchEngines.start(EngineSetup.EMBEDDED, System.out)) {
            assertThat(e.processes()).isEmpty();
            String config = JunctionServer.mergeConfig("", 1, 2, Path.of("/d"), e.configSections());
            assertThat(config).contains("[streams]\nengine = \"embedded\"")
                    .contains("[status]\nengine = \"embedded\"")
                    .contains("[state]\nengine = \"embedded\"")
                    .doesNotContain("[kafka]").doesNotContain("[redis]").doesNotContain("[postgres]");
        }
    }

    @Test
    void theEnginesSectionsReplaceThoseOfTheUsersConfig() {
        String base = """
                [streams]
                engine = "kafka"
                [kafka]
                bootstrap = "10.0.0.1:9092"
                raw_topic = "mine.raw"
                [telemetry]
                enabled = false
                """;
        String merged = JunctionServer.mergeConfig(base, 1, 2, Path.of("/d"), List.of(
                new String[]{"streams", "engine = \"embedded\""},
                new String[]{"kafka", "bootstrap = \"127.0.0.1:1234\""},
                new String[]{"redis", "url = \"redis://127.0.0.1:5678\""}));
        assertThat(merged).contains("[streams]\nengine = \"embedded\"\n# (replaced by the bench) engine = \"kafka\"")
                .contains("bootstrap = \"127.0.0.1:1234\"\n# (replaced by the bench) bootstrap = \"10.0.0.1:9092\"")
                .contains("raw_topic = \"mine.raw\"")
                .contains("[redis]\nurl = \"redis://127.0.0.1:5678\"")
                .contains("[telemetry]\nenabled = false");
    }

    @Test
    void medianAndMachineTimeAreReadRight() {
        assertThat(Table.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
        assertThat(Table.median(List.of(4.0, 1.0, 2.0, 3.0))).isEqualTo(2.5);
        assertThat(Table.median(List.of(Double.NaN, 5.0))).isEqualTo(5.0);
        assertThat(Table.median(List.of())).isNaN();
        // user nice system idle iowait irq softirq steal guest guest_nice: busy leaves out idle and iowait
        assertThat(Usage.parseCpuLine("cpu  100 5 50 1000 20 3 2 1 7 0")).containsExactly(161, 1181);
    }
}
