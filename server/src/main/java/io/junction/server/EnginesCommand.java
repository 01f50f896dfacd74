package io.junction.server;

import io.junction.scaleout.engines.KafkaServer;
import io.junction.scaleout.engines.PostgresServer;
import io.junction.scaleout.engines.RedisServer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code junction engines up|down}: Kafka, Redis and PostgreSQL on this machine's loopback, for trying the scale-out
 * set-up without operating them — Kafka as a child JVM from the Maven artifacts, Redis and PostgreSQL from the
 * system's packages — with a config file that selects all three. They keep running after the command returns (their
 * process ids are in {@code <dir>/<engine>.pid}) until {@code engines down}; their data stays in {@code <dir>}.
 */
@Command(name = "engines", description = "Start or stop Kafka, Redis and PostgreSQL on 127.0.0.1 for the scale-out set-up.",
        subcommands = {EnginesCommand.Up.class, EnginesCommand.Down.class})
final class EnginesCommand {

    static final String CONFIG = "junction-engines.toml";

    /** The options both subcommands share: where the engines keep their data and process ids. */
    static class Where {
        @Option(names = "--dir", defaultValue = "engines", description = "where the engines keep their data (default: ./engines)")
        Path dir;
    }

    @Command(name = "up", description = "Start the three engines (those already running are left alone) and write a config that selects them.")
    static final class Up extends Where implements Callable<Integer> {
        @Option(names = "--kafka-port", defaultValue = "9092")
        int kafkaPort;
        @Option(names = "--kafka-controller-port", defaultValue = "9093")
        int kafkaControllerPort;
        @Option(names = "--redis-port", defaultValue = "6379")
        int redisPort;
        @Option(names = "--postgres-port", defaultValue = "5432")
        int postgresPort;

        @Override
        public Integer call() {
            PrintStream out = System.out;
            Path root = dir.toAbsolutePath().normalize();
            try {
                Files.createDirectories(root);
                String bootstrap = "127.0.0.1:" + kafkaPort;
                if (running(root, "kafka").isPresent()) {
                    out.println("kafka: already running (" + bootstrap + ")");
                } else {
                    KafkaServer kafka = KafkaServer.start(root.resolve("kafka"), kafkaPort, kafkaControllerPort);
                    kafka.detach();
                    writePid(root, "kafka", kafka.pid());
                    out.println("kafka: started on " + kafka.bootstrap() + " (pid " + kafka.pid() + ", log " + root.resolve("kafka/kafka.log") + ")");
                }
                String redisUrl = "redis://127.0.0.1:" + redisPort;
                if (running(root, "redis").isPresent()) {
                    out.println("redis: already running (" + redisUrl + ")");
                } else {
                    RedisServer redis = RedisServer.start(root.resolve("redis"), redisPort, true);
                    redis.detach();
                    writePid(root, "redis", redis.pid());
                    out.println("redis: started on " + redis.url() + " (pid " + redis.pid() + ", append-only file in " + root.resolve("redis") + ")");
                }
                String postgresUrl = "jdbc:postgresql://127.0.0.1:" + postgresPort + "/junction";
                String postgresUser = "junction";
                Path passwordFile = root.resolve("postgres").resolve("password");
                if (running(root, "postgres").isPresent()) {
                    out.println("postgres: already running (" + postgresUrl + ")");
                } else {
                    PostgresServer postgres = PostgresServer.start(root.resolve("postgres"), postgresPort);
                    postgres.detach();
                    writePid(root, "postgres", postgres.pid());
                    postgresUrl = postgres.url();
                    postgresUser = postgres.user();
                    out.println("postgres: started on " + postgres.url() + " (pid " + postgres.pid() + ")");
                }
                // The role's password is random (PostgreSQL asks for it, scram-sha-256): without it in the config the
                // server cannot log in. The file is the owner's alone, as the password file beside the data is.
                String postgresPassword = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
                Path config = root.resolve(CONFIG);
                Files.deleteIfExists(config);
                Files.createFile(config, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(config, """
                        # Written by './junction engines up': every storage port on the engines it started.
                        # Add your own sections ([mqtt], [http], [data], ...) or copy these into your junction.toml.
                        [streams]
                        engine = "kafka"

                        [status]
                        engine = "redis"

                        [state]
                        engine = "postgres"

                        [kafka]
                        bootstrap = "%s"

                        [redis]
                        url = "%s"

                        [postgres]
                        url = "%s"
                        user = "%s"
                        password = "%s"
                        """.formatted(bootstrap, redisUrl, postgresUrl, postgresUser, postgresPassword), StandardCharsets.UTF_8);
                out.println();
                out.println("config: " + config);
                out.println("run Junction on them:  ./junction run --config " + config);
                out.println("stop them:             ./junction engines down" + (dir.equals(Path.of("engines")) ? "" : " --dir " + dir));
                return 0;
            } catch (IOException | RuntimeException e) {
                System.err.println("junction: engines up: " + e.getMessage());
                System.err.println("junction: the engines started so far keep running; stop them with './junction engines down'");
                return 1;
            }
        }
    }

    @Command(name = "down", description = "Stop the engines that 'engines up' started (their data stays).")
    static final class Down extends Where implements Callable<Integer> {
        @Override
        public Integer call() {
            Path root = dir.toAbsolutePath().normalize();
            int failed = 0;
            for (String engine : List.of("kafka", "redis", "postgres")) {
                Optional<ProcessHandle> process = running(root, engine);
                if (process.isEmpty()) {
                    System.out.println(engine + ": not running");
                    deletePid(root, engine);
                    continue;
                }
                if (stop(engine, process.get())) {
                    System.out.println(engine + ": stopped");
                    deletePid(root, engine);
                } else {
                    System.err.println(engine + ": still running after 60 s (pid " + process.get().pid() + ")");
                    failed++;
                }
            }
            return failed == 0 ? 0 : 1;
        }

        /**
         * PostgreSQL stops fast (disconnecting clients, with a checkpoint) on SIGINT; SIGTERM would wait for every client.
         * Kafka and Redis stop cleanly on SIGTERM.
         */
        private static boolean stop(String engine, ProcessHandle process) {
            try {
                if (engine.equals("postgres")) {
                    new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
                } else {
                    process.destroy();
                }
                process.onExit().get(60, TimeUnit.SECONDS);
                return true;
            } catch (Exception e) {
                return !process.isAlive();
            }
        }
    }

    /** The engine's process when its pid file names one that is alive. */
    static Optional<ProcessHandle> running(Path root, String engine) {
        Path file = root.resolve(engine + ".pid");
        try {
            long pid = Long.parseLong(Files.readString(file, StandardCharsets.UTF_8).trim());
            // A pid the system gave to another program since is not the engine.
            String marker = switch (engine) {
                case "kafka" -> "kafka.Kafka";
                case "redis" -> "redis-server";
                default -> "postgres";
            };
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .filter(p -> commandLine(p).map(c -> c.contains(marker)).orElse(true));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * The whole command line from {@code /proc/<pid>/cmdline}: {@code ProcessHandle.Info.commandLine()} stops at 4,096
     * characters (Kafka's class path is longer, its main class comes last) and names the executable, which for Debian's
     * redis-server is the {@code redis-check-rdb} it links to; Redis retitles its command line to {@code redis-server ...}.
     */
    private static Optional<String> commandLine(ProcessHandle p) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
            return Optional.of(new String(raw, StandardCharsets.UTF_8).replace('\0', ' '));
        } catch (IOException | RuntimeException e) {
            return p.info().commandLine();
        }
    }

    private static void writePid(Path root, String engine, long pid) throws IOException {
        Files.writeString(root.resolve(engine + ".pid"), pid + "\n", StandardCharsets.UTF_8);
    }

    private static void deletePid(Path root, String engine) {
        try {
            Files.deleteIfExists(root.resolve(engine + ".pid"));
        } catch (IOException e) {
            // a stale pid file names no live process: 'running' treats it as stopped
        }
    }
}
