package io.junction.server;

import io.junction.core.auth.PasswordHash;
import io.junction.core.config.ConfigException;
import io.junction.core.config.ConfigLoader;
import io.junction.core.config.JunctionConfig;
import io.junction.scaleout.EngineProbe;
import io.junction.scaleout.EngineSettings;

import org.slf4j.bridge.SLF4JBridgeHandler;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** The command line: {@code run}, {@code config check}, {@code passwd} and {@code engines up|down}. */
@Command(name = "junction", mixinStandardHelpOptions = true,
        subcommands = {Main.Run.class, Main.ConfigCommand.class, Main.Passwd.class, EnginesCommand.class},
        description = "Junction: one server for devices, people and live streams.")
public final class Main {

    public static void main(String[] args) {
        // Libraries that log through java.util.logging (Helidon) go to the same log as everything else.
        SLF4JBridgeHandler.removeHandlersForRootLogger();
        SLF4JBridgeHandler.install();
        System.exit(new CommandLine(new Main()).execute(args));
    }

    /**
     * The process environment, read here once and handed to everything that needs a variable (secrets named by
     * {@code ..._env} keys, {@code JUNCTION_ADMIN_PASSWORD}): nothing else calls {@code System.getenv}.
     */
    private static Map<String, String> environment() {
        return System.getenv();
    }

    /** {@code file}, else {@code ./junction.toml} when it exists, else the defaults, read with every feature. */
    static JunctionConfig loadConfig(Path file, Map<String, String> env) {
        ConfigLoader loader = Junction.configLoader(env);
        if (file == null) {
            Path local = Path.of("junction.toml");
            return Files.isRegularFile(local) ? loader.read(local) : loader.parse("(defaults)", "");
        }
        return loader.read(file);
    }

    @Command(name = "run", description = "Start the server (embedded defaults when there is no config file).")
    static final class Run implements Callable<Integer> {
        @Option(names = "--config", description = "the config file (default: ./junction.toml when it exists)")
        Path config;

        @Override
        public Integer call() {
            JunctionConfig cfg;
            try {
                cfg = loadConfig(config, environment());
            } catch (ConfigException e) {
                System.err.println("junction: bad config: " + e.getMessage());
                return 2;
            }
            Junction node;
            try {
                node = Junction.start(cfg);
            } catch (ConfigException e) {
                System.err.println("junction: bad config: " + e.getMessage());
                return 2;
            } catch (StartupException e) {
                System.err.println("junction: cannot start: " + e.getMessage());
                return 1;
            } catch (RuntimeException e) {
                System.err.println("junction: cannot start: " + e);
                e.printStackTrace();
                return 1;
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                node.close();
                stopped.countDown();
            }, "junction-shutdown"));
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }
    }

    @Command(name = "config", description = "Work with config files.", subcommands = ConfigCheck.class)
    static final class ConfigCommand {
    }

    @Command(name = "check", description = "Validate a config file without starting anything, and check that the engines it selects answer.")
    static final class ConfigCheck implements Callable<Integer> {
        @Parameters(index = "0", description = "the config file")
        Path file;

        @Override
        public Integer call() {
            try {
                // Loading checks the spine's sections and every feature's.
                JunctionConfig cfg = Junction.configLoader(environment()).read(file);
                System.out.println(file + ": ok (MQTT on " + cfg.mqtt().host() + ":" + cfg.mqtt().port()
                        + ", HTTP on " + cfg.http().host() + ":" + cfg.http().port() + ", data in " + cfg.data().dir() + ")");
                EngineSettings engines = cfg.settings(EngineSettings.class);
                System.out.println("engines: streams " + engineName(engines.streams()) + ", status " + engineName(engines.status())
                        + ", state " + engineName(engines.state()));
                int away = 0;
                for (EngineProbe.Result r : EngineProbe.probe(engines)) {
                    if (r.ok()) {
                        System.out.println(r.engine() + " at " + r.where() + ": answers");
                    } else {
                        System.err.println(r.engine() + " at " + r.where() + ": does not answer: " + r.problem());
                        away++;
                    }
                }
                // The file is right; an engine that does not answer would stop the start: say so in the exit code.
                return away == 0 ? 0 : 1;
            } catch (ConfigException e) {
                System.err.println(e.getMessage());
                return 2;
            }
        }
    }

    private static String engineName(Enum<?> engine) {
        return engine.name().toLowerCase(java.util.Locale.ROOT);
    }

    @Command(name = "passwd", description = "Hash a password for the [mqtt.users] section (read from standard input).")
    static final class Passwd implements Callable<Integer> {
        @Override
        public Integer call() throws IOException {
            char[] password;
            Console console = System.console();
            if (console != null) {
                password = console.readPassword("password: ");
            } else {
                String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                password = line == null ? new char[0] : line.toCharArray();
            }
            if (password == null || password.length == 0) {
                System.err.println("junction: no password given");
                return 2;
            }
            System.out.println(PasswordHash.hash(password));
            return 0;
        }
    }
}
