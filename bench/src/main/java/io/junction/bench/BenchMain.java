package io.junction.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The benchmarks' entry point ({@code ./junction bench ingest|overload ...}).
 */
public final class BenchMain {

    static final String USAGE = """
            usage: bench <command> [options]

            commands:
              ingest     Junction's ingest throughput and publish-to-WebSocket latency, against a Mosquitto reference
                --devices N          device connections (default 10)
                --seconds T          measured seconds per pass, after a 2 s warm-up (default 10)
                --qos 0|1|both       (default both)
                --payload BYTES      payload size (default 100)
                --rate R             msgs/s over all devices; 0 = as fast as possible (default 0)
                --window W           QoS 1 publishes in flight per connection when as fast as possible (default 64)
                --no-reference       skip the Mosquitto reference
                --no-junction        run the Mosquitto reference only
                --junction-config F  a junction.toml whose settings are kept (ports and data dir are the bench's);
                                     without it the server runs the spine alone ([telemetry] enabled = false)
                --engines SETUPS     run Junction on real engines the bench starts for the run (free loopback ports,
                                     a temp dir) and stops: setups separated by '/', each 'embedded', 'all' or a
                                     comma list of kafka, redis, postgres; 'embedded/all' prints both side by side,
                                     with the CPU per message of the server and of each engine
                --runs N             run the setups N times, interleaved, and print the medians (default 1)
                --json FILE          also write the results as JSON to FILE

              overload   offers a multiple of the max QoS 1 rate with a slow WebSocket reader, then checks the server
                --minutes M          how long to overload (default 10)
                --seconds S          how long to overload, in seconds (overrides --minutes; for short trials)
                --devices N          device connections, half QoS 0 and half QoS 1 (default 20)
                --factor F           offered rate / measured max QoS 1 rate (default 3)
                --calibrate S        seconds to measure the max QoS 1 rate (default 10)
                --payload BYTES      payload size (default 100)
                --window W           QoS 1 publishes in flight per connection (default 64)
                --junction-config F  as for ingest

              engine     scripts' cost per message and replay speed (bench engine --help)
              exec       exec round trip over the real-time WebSocket and status fan-out (bench exec --help);
                         takes --engines SETUPS and --runs N as ingest does
              jobs       10,000 concurrent jobs across a kill -9: none lost, none run twice, ends on time (bench jobs --help)
                         [--messages N] [--rate R] [--paced-seconds S] [--replay N] [--python-replay N]
                         [--fsync always|interval|never] [--skip-python]
              telemetry  points written per second, query times, bytes per point (bench telemetry --help)
              ota        offers per second, image downloads, a fleet install with cut-off devices (bench ota --help)
              media      RTMP players per core, memory and latency, against nginx-rtmp (bench media --help)
            """;

    private BenchMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        try {
            // The feature benchmarks print their own options.
            boolean ownHelp = Set.of("engine", "telemetry", "ota", "media", "exec", "jobs").contains(args[0]);
            for (String a : args) {
                if (!ownHelp && (a.equals("--help") || a.equals("-h"))) {
                    out.print(USAGE);
                    return 0;
                }
            }
            return switch (args[0]) {
                case "ingest" -> new IngestBench(ingestOptions(args), out).run();
                case "overload" -> new OverloadBench(overloadOptions(args), out).run();
                case "engine" -> EngineBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                case "telemetry" -> TelemetryBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                case "ota" -> OtaBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                case "media" -> MediaBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                case "exec" -> ExecBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                case "jobs" -> JobsBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                default -> throw new Args.UsageException("unknown command '" + args[0]
                        + "': use ingest, overload, engine, telemetry, ota, media, exec or jobs");
            };
        } catch (Args.UsageException e) {
            err.println("bench: " + e.getMessage());
            err.print(args[0].equals("exec") ? ExecBench.HELP + "\n" : USAGE);
            return 2;
        } catch (Exception e) {
            err.println("bench failed: " + e.getMessage());
            e.printStackTrace(err);
            return 1;
        }
    }

    static IngestBench.Options ingestOptions(String[] argv) throws Args.UsageException {
        Args a = new Args(argv, 1,
                Set.of("--devices", "--seconds", "--qos", "--payload", "--rate", "--window", "--junction-config", "--json",
                        "--engines", "--runs"),
                Set.of("--no-reference", "--no-junction"));
        String q = a.string("--qos", "both");
        List<Integer> qos = switch (q) {
            case "0" -> List.of(0);
            case "1" -> List.of(1);
            case "both" -> List.of(0, 1);
            default -> throw new Args.UsageException("--qos must be 0, 1 or both, got '" + q + "'");
        };
        if (a.flag("--no-reference") && a.flag("--no-junction")) {
            throw new Args.UsageException("--no-reference and --no-junction together leave nothing to run");
        }
        String json = a.string("--json", null);
        List<EngineSetup> engines = engines(a);
        if (!engines.isEmpty() && a.flag("--no-junction")) {
            throw new Args.UsageException("--engines with --no-junction: the engines are for Junction's runs; drop one of them");
        }
        return new IngestBench.Options(
                a.integer("--devices", 10, 1, 10_000),
                a.integer("--seconds", 10, 1, 86_400),
                qos,
                a.integer("--payload", 100, 1, 1024 * 1024),
                a.decimal("--rate", 0, 0, 1e9),
                !a.flag("--no-reference"),
                !a.flag("--no-junction"),
                configFile(a),
                json == null ? null : Path.of(json),
                a.integer("--window", IngestBench.QOS1_WINDOW, 1, 65_535),
                engines,
                a.integer("--runs", 1, 1, 100));
    }

    /** {@code --engines SETUPS} ({@link EngineSetup#parseList}); empty when absent. */
    static List<EngineSetup> engines(Args a) throws Args.UsageException {
        String v = a.string("--engines", null);
        return v == null ? List.of() : EngineSetup.parseList(v);
    }

    static OverloadBench.Options overloadOptions(String[] argv) throws Args.UsageException {
        Args a = new Args(argv, 1,
                Set.of("--minutes", "--seconds", "--devices", "--factor", "--calibrate", "--payload", "--window",
                        "--junction-config"),
                Set.of());
        long seconds = a.string("--seconds", null) != null
                ? a.integer("--seconds", 0, 1, 7 * 86_400)
                : 60L * a.integer("--minutes", 10, 1, 7 * 1440);
        int devices = a.integer("--devices", 20, 2, 10_000);
        return new OverloadBench.Options(seconds, devices,
                a.decimal("--factor", 3, 0.01, 1000),
                a.integer("--calibrate", 10, 1, 3600),
                a.integer("--payload", 100, 1, 1024 * 1024),
                a.integer("--window", IngestBench.QOS1_WINDOW, 1, 65_535),
                configFile(a));
    }

    private static Path configFile(Args a) throws Args.UsageException {
        String c = a.string("--junction-config", null);
        if (c == null) {
            return null;
        }
        Path p = Path.of(c);
        if (!Files.isReadable(p)) {
            throw new Args.UsageException("--junction-config " + c + ": no such readable file");
        }
        return p;
    }
}
